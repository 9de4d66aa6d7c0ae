"""Human approvals: durable waits for a person's decision, listed per tenant and decided from the CLI or HTTP.

A handler (or an Agents SDK tool declared with ``durable_tool(durable_actions=True)``, passing
:func:`resilient_agents.openai_agents.durable_context`) calls :func:`await_approval`; the invocation suspends
on an awakeable, with a timeout, and the request is listed in the ``Approvals`` Virtual Object, under the key of
its tenant, until it is decided, times out or is withdrawn. A Workflow waits on its own durable promise with
:func:`await_workflow_approval` and takes the decision in a shared handler with :func:`resolve_workflow_approval`
(or does the same by hand with :func:`register_pending` (``kind="workflow"``) and :func:`clear_pending`).

People decide with ``resilient-agents approvals list | approve ID | reject ID`` or plain HTTP
(``POST /Approvals/<tenant>/list``, ``POST /Approvals/<tenant>/decide`` with ``{"id": ID, "approved": true}``).
A decision for an approval that already ended is refused (HTTP 409: "too late: timed_out ...", "already
approved by ana ..."). Serve :func:`approvals_object` (optionally ``namespace="app"``: ``app.Approvals``) in the
same app as the code that asks.
"""

from __future__ import annotations

import typing as _typing

from ._types import (
    APPROVALS_OBJECT,
    DEFAULT_TENANT,
    ApprovalDecision,
    DecidedApproval,
    DecideRequest,
    PendingApproval,
    ResolveTarget,
)

if _typing.TYPE_CHECKING:
    from ._await import (
        await_approval,
        await_workflow_approval,
        clear_pending,
        register_pending,
        resolve_workflow_approval,
    )
    from ._object import approvals_object, approvals_object_name

# What needs the Restate SDK is loaded on first use, so `resilient-agents approvals` starts without it.
_LAZY = {
    "await_approval": "_await",
    "await_workflow_approval": "_await",
    "clear_pending": "_await",
    "register_pending": "_await",
    "resolve_workflow_approval": "_await",
    "approvals_object": "_object",
    "approvals_object_name": "_object",
}

__all__ = [
    "APPROVALS_OBJECT",
    "DEFAULT_TENANT",
    "ApprovalDecision",
    "DecideRequest",
    "DecidedApproval",
    "PendingApproval",
    "ResolveTarget",
    "approvals_object",
    "approvals_object_name",
    "await_approval",
    "await_workflow_approval",
    "clear_pending",
    "register_pending",
    "resolve_workflow_approval",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
