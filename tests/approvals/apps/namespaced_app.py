"""A test app whose approvals object is namespaced: ``acme.Approvals``.

* ``AcmeDemo/request`` calls :func:`await_approval` (which lists the request in ``acme.Approvals``, the name
  that ``approvals_object(namespace="acme")`` set for this process) and returns the decision.
"""

from __future__ import annotations

from datetime import timedelta

import restate
from pydantic import BaseModel

from resilient_agents.approvals import ApprovalDecision, approvals_object, await_approval

registry = approvals_object(namespace="acme")


class AcmeRequest(BaseModel):
    """What the test asks for."""

    approval_id: str
    tenant: str | None = None
    timeout_ms: int = 3_600_000


demo = restate.Service("AcmeDemo")


@demo.handler()
async def request(ctx: restate.Context, req: AcmeRequest) -> ApprovalDecision:
    """Ask for approval (listed in ``acme.Approvals``) and return the decision."""
    return await await_approval(
        ctx,
        title=f"acme {req.approval_id}",
        details={},
        timeout=timedelta(milliseconds=req.timeout_ms),
        requested_by="AcmeDemo",
        approval_id=req.approval_id,
        tenant=req.tenant,
    )


app = restate.app(services=[demo, registry])
