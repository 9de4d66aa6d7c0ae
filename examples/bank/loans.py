"""``LoanApproval``: a Workflow that approves small loans at once and asks a bank employee about large ones.

``run`` (one per loan request; the key is the approval id people type) lists a large request in the
``Approvals`` object and waits on its durable promise for a decision, at most
``BANK_LOAN_APPROVAL_TIMEOUT_SECONDS`` (default 600 s). A bank employee decides with
``resilient-agents approvals approve|reject <id>``, which POSTs the decision to the shared ``decide`` handler.
An approved loan is recorded and paid out onto the customer's account; the answer tells the customer either way.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Literal

import restate
from pydantic import BaseModel, ConfigDict, Field

from resilient_agents.approvals import ApprovalDecision, await_workflow_approval, resolve_workflow_approval

from .account import LoanPayout, open_loan
from .data import CURRENCY, money, to_cents

LOAN_WORKFLOW = "LoanApproval"
"""The workflow's name."""
AUTO_APPROVE_LIMIT = 5_000.0
"""Loans up to this amount (currency units) are approved without a person."""
TIMEOUT_ENV = "BANK_LOAN_APPROVAL_TIMEOUT_SECONDS"
"""Environment variable: how long a large request waits for a decision (seconds)."""

loan_approval = restate.Workflow(
    LOAN_WORKFLOW, description="Approves loan requests; large ones by a person.", ingress_private=True
)


class LoanRequest(BaseModel):
    """A loan request as the model fills it in; the customer is the session's, never a model argument."""

    model_config = ConfigDict(extra="forbid")

    # At least one cent: a smaller amount rounds to 0 cents, which the payout does not accept.
    amount: float = Field(ge=0.01, le=1_000_000, description=f"The amount to borrow in {CURRENCY}.")
    term_months: int = Field(60, gt=0, le=360, description="How many months to pay it back over.")
    purpose: str = Field("", description="What the loan is for.")


class LoanApplication(LoanRequest):
    """The request as the workflow receives it: the loop adds the customer from the session."""

    customer_id: str
    """The applicant (the session's key, added by the loop)."""


class LoanDecision(BaseModel):
    """The outcome, as the loan agent's tool returns it to the model."""

    status: Literal["approved", "rejected", "timed_out"]
    loan_id: str
    amount: str
    message: str
    """One or two sentences for the customer."""


def approval_timeout() -> timedelta:
    """How long a large request waits for a person (``$BANK_LOAN_APPROVAL_TIMEOUT_SECONDS``, default 600 s)."""
    return timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "600")))


async def _decide(ctx: restate.WorkflowContext, application: LoanApplication, amount: str) -> ApprovalDecision:
    if application.amount <= AUTO_APPROVE_LIMIT:
        return ApprovalDecision(
            approved=True, by="our automatic check", note=f"up to {AUTO_APPROVE_LIMIT:,.0f} {CURRENCY}"
        )
    return await await_workflow_approval(
        ctx,
        workflow=LOAN_WORKFLOW,
        title=f"Loan of {amount} for {application.customer_id} over {application.term_months} months",
        details={
            "customer": application.customer_id,
            "amount": amount,
            "term_months": application.term_months,
            "purpose": application.purpose,
        },
        timeout=approval_timeout(),
        requested_by=f"loan agent for {application.customer_id}",
        approval_id=ctx.key(),
    )


@loan_approval.main()
async def run(ctx: restate.WorkflowContext, application: LoanApplication) -> LoanDecision:
    """Decide a loan request (waiting for a person above the automatic limit) and pay an approved loan out."""
    loan_id, amount = ctx.key(), f"{money(to_cents(application.amount))} {CURRENCY}"
    decision = await _decide(ctx, application, amount)
    note = f" ({decision.note})" if decision.note else ""
    if decision.timed_out:
        message = (
            f"Your loan request {loan_id} for {amount} was not decided in time{note} and is therefore rejected. "
            "Nothing was booked; you are welcome to apply again."
        )
        return LoanDecision(status="timed_out", loan_id=loan_id, amount=amount, message=message)
    if not decision.approved:
        message = f"Your loan request {loan_id} for {amount} was rejected by {decision.by or 'the bank'}{note}."
        return LoanDecision(status="rejected", loan_id=loan_id, amount=amount, message=message)
    payout = LoanPayout(
        loan_id=loan_id,
        amount_cents=to_cents(application.amount),
        term_months=application.term_months,
        purpose=application.purpose,
    )
    receipt = await ctx.object_call(open_loan, key=application.customer_id, arg=payout)
    message = (
        f"Your loan request {loan_id} for {amount} over {application.term_months} months was approved by "
        f"{decision.by or 'the bank'}{note}. The money is on your account; the new balance is "
        f"{receipt['balance']} {CURRENCY}."
    )
    return LoanDecision(status="approved", loan_id=loan_id, amount=amount, message=message)


@loan_approval.handler()
async def decide(ctx: restate.WorkflowSharedContext, decision: ApprovalDecision) -> None:
    """Take a bank employee's decision (``resilient-agents approvals approve|reject <id>`` posts it here)."""
    await resolve_workflow_approval(ctx, decision)
