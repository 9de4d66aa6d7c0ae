"""Human approvals: durable waits for a person's decision, listed in one place and decided from the CLI or HTTP.

A handler (or an Agents SDK tool declared with ``durable_tool(invocation=True)``, passing
:func:`resilient_agents.openai_agents.durable_context`) calls :func:`await_approval`; the invocation suspends
on an awakeable, with a timeout, and the request is listed in the ``Approvals`` Virtual Object until it is
decided or times out. A Workflow waits on its own durable promise with :func:`await_workflow_approval` and takes
the decision in a shared handler with :func:`resolve_workflow_approval` (or does the same by hand with
:func:`register_pending` (``kind="workflow"``) and :func:`clear_pending`).

People decide with ``resilient-agents approvals list | approve ID | reject ID`` or plain HTTP
(``POST /Approvals/pending/list``, then resolve the awakeable or call the workflow handler). Serve
:func:`approvals_object` in the same app as the code that asks.
"""

from __future__ import annotations

from ._await import (
    await_approval,
    await_workflow_approval,
    clear_pending,
    register_pending,
    resolve_workflow_approval,
)
from ._object import approvals_object
from ._types import APPROVALS_KEY, APPROVALS_OBJECT, ApprovalDecision, PendingApproval, ResolveTarget

__all__ = [
    "APPROVALS_KEY",
    "APPROVALS_OBJECT",
    "ApprovalDecision",
    "PendingApproval",
    "ResolveTarget",
    "approvals_object",
    "await_approval",
    "await_workflow_approval",
    "clear_pending",
    "register_pending",
    "resolve_workflow_approval",
]
