"""A test app for :mod:`resilient_agents.approvals`: a service that asks for approval, and a workflow that does.

* ``ApprovalDemo/request`` calls :func:`await_approval` (timeout and tenant from the input) and returns the decision.
* ``Seats/run``: an Agents SDK agent whose tool ``change_seat(seat)`` waits for approval
  (``durable_tool(durable_actions=True)``; several calls in one model response wait side by side).
* ``LoanFlow/<key>/run`` does the same with :func:`await_workflow_approval` and :func:`resolve_workflow_approval`.
* ``ApprovalFlow/<key>/run`` lists itself with a ``kind="workflow"`` target pointing at its shared ``decide``
  handler, waits for the ``decision`` durable promise or its timeout, ends the entry and returns the decision.

Timeouts default to an hour, so that no test races one by accident; a test that wants the timeout asks for a
short one and decides nothing before it fires.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import restate
from agents import Agent
from pydantic import BaseModel, Field

from resilient_agents.approvals import (
    ApprovalDecision,
    PendingApproval,
    ResolveTarget,
    approvals_object,
    await_approval,
    await_workflow_approval,
    clear_pending,
    register_pending,
    resolve_workflow_approval,
)
from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import agent_service, durable_app, durable_context, durable_tool

# A killed and restarted service should get its invocations back quickly, not after seconds of backoff.
_FAST_RETRY = restate.InvocationRetryPolicy(
    initial_interval=timedelta(milliseconds=50), exponentiation_factor=2.0, max_interval=timedelta(milliseconds=500)
)


class ApprovalRequest(BaseModel):
    """What the test asks for."""

    title: str
    timeout_ms: int = 3_600_000
    approval_id: str | None = None
    tenant: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


demo = restate.Service("ApprovalDemo", invocation_retry_policy=_FAST_RETRY)


@demo.handler()
async def request(ctx: restate.Context, req: ApprovalRequest) -> ApprovalDecision:
    """Ask for approval and return the decision."""
    return await await_approval(
        ctx,
        title=req.title,
        details=req.details,
        timeout=timedelta(milliseconds=req.timeout_ms),
        requested_by="ApprovalDemo",
        approval_id=req.approval_id,
        tenant=req.tenant,
    )


flow = restate.Workflow("ApprovalFlow", invocation_retry_policy=_FAST_RETRY)


@flow.main()
async def run(ctx: restate.WorkflowContext, req: ApprovalRequest) -> ApprovalDecision:
    """Wait for ``decide`` (or the timeout) while listed in ``Approvals``."""
    approval_id = req.approval_id or f"flow-{ctx.key()}"
    now_ms = int(await ctx.time() * 1000)
    register_pending(
        ctx,
        PendingApproval(
            id=approval_id,
            title=req.title,
            details=req.details,
            requested_by=f"ApprovalFlow/{ctx.key()}",
            resolve=ResolveTarget(kind="workflow", service="ApprovalFlow", key=ctx.key(), handler="decide"),
            created_at_ms=now_ms,
            expires_at_ms=now_ms + req.timeout_ms,
        ),
        tenant=req.tenant,
    )
    promise = ctx.promise("decision", type_hint=ApprovalDecision)
    match await restate.select(decision=promise.value(), timeout=ctx.sleep(timedelta(milliseconds=req.timeout_ms))):
        case ["decision", ApprovalDecision() as decision]:
            pass
        case _:
            decision = ApprovalDecision(approved=False, timed_out=True, note="no decision in time")
    clear_pending(ctx, approval_id, tenant=req.tenant, decision=decision)
    return decision


@flow.handler()
async def decide(ctx: restate.WorkflowSharedContext, decision: ApprovalDecision) -> None:
    """Take a person's decision (what ``resilient-agents approvals approve|reject`` sends)."""
    await ctx.promise("decision", type_hint=ApprovalDecision).resolve(decision)


loan = restate.Workflow("LoanFlow", invocation_retry_policy=_FAST_RETRY)


@loan.main(name="run")
async def loan_run(ctx: restate.WorkflowContext, req: ApprovalRequest) -> ApprovalDecision:
    """Wait for a decision through the workflow helpers."""
    return await await_workflow_approval(
        ctx,
        workflow="LoanFlow",
        title=req.title,
        details=req.details,
        timeout=timedelta(milliseconds=req.timeout_ms),
        tenant=req.tenant,
    )


@loan.handler(name="decide")
async def loan_decide(ctx: restate.WorkflowSharedContext, decision: ApprovalDecision) -> None:
    """Take a person's decision."""
    await resolve_workflow_approval(ctx, decision)


@durable_tool(durable_actions=True)
async def change_seat(seat: str) -> str:
    """Move the passenger to another seat (needs a supervisor's approval).

    Args:
        seat: The new seat, e.g. "1A".
    """
    decision = await await_approval(
        durable_context(),
        title=f"seat change to {seat}",
        details={"seat": seat},
        timeout=timedelta(hours=1),
        requested_by="Seats agent",
        approval_id=f"seat-{seat}",
    )
    if decision.approved:
        return f"seat changed to {seat}"
    return f"seat change to {seat} not approved: {decision.note}"


seats = agent_service(
    Agent(name="Seats", instructions="Change seats with the tool.", tools=[change_seat]),
    name="Seats",
    run_config=lambda: ModelConfig.from_env().run_config(),
)

app = durable_app([demo, flow, loan, seats, approvals_object()])
