"""``durable_app``: ``restate.app`` for durable agents. Private module."""

from __future__ import annotations

from typing import Any

import restate

from resilient_agents._progress import install as install_progress_driver

from ._streaming import with_streams


def durable_app(
    services: list[restate.Service | restate.VirtualObject | restate.Workflow],
    *,
    namespace: str | None = None,
    **kwargs: Any,
) -> Any:
    """``restate.app`` with the ``Approvals`` object added: serve this from your deployment.

    The app also serves the streaming side channel, ``GET /_streams/<invocation id>`` (see
    :meth:`DurableRunner.run_streamed`).

    Args:
        services: Your services, objects and workflows.
        namespace: Names the approvals object ``<namespace>.Approvals``, so that several apps can share one
            engine; ``None`` keeps ``Approvals``.
        **kwargs: Passed to :func:`restate.app` (e.g. ``identity_keys``).
    """
    from resilient_agents.approvals import approvals_object

    install_progress_driver()
    approvals = approvals_object(namespace=namespace)
    given = {id(service) for service in services}
    app = restate.app(services=[*services, *([approvals] if id(approvals) not in given else [])], **kwargs)
    return with_streams(app)  # Also serves GET /_streams/<invocation id> (see DurableRunner.run_streamed).
