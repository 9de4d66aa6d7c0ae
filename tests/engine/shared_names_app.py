"""Two unrelated apps that share a service name (``Shared``), and an upgrade of the first that adds a service."""

from __future__ import annotations

import restate


def _service(name: str) -> restate.Service:
    service = restate.Service(name)

    @service.handler()
    async def ping(ctx: restate.Context, text: str) -> str:
        return f"{name}: {text}"

    return service


shared_for_alpha = _service("Shared")
shared_for_beta = _service("Shared")

alpha = restate.app(services=[_service("Alpha"), shared_for_alpha])
alpha_v2 = restate.app(services=[_service("Alpha"), shared_for_alpha, _service("AlphaReports")])
beta = restate.app(services=[_service("Beta"), shared_for_beta])
