"""Serving an agent as a stateless Restate service (a remote agent). Private module."""

from __future__ import annotations

from collections.abc import Sequence

import restate

from resilient_agents._progress import install as install_progress_driver

from ._agent import LoopAgent
from ._input import RawBytes, parse_user_message
from ._phases._outcome import TurnState
from ._registry import ClientSource, LazyClient, agent_registry
from ._runner import run_turn
from ._settings import LoopSettings, default_retry_policy
from ._types import ChatMessage


def loop_agent_service(
    name: str,
    agents: Sequence[LoopAgent],
    start_agent: str,
    client: ClientSource,
    *,
    settings: LoopSettings | None = None,
    retry_policy: restate.InvocationRetryPolicy | None = None,
    description: str | None = None,
) -> restate.Service:
    """Build a stateless agent service: ``run`` takes one message (JSON string) and answers it in one turn.

    Use it for remote agents that other agents call as tools (:func:`agent_tool`); each call has its own
    journal. There is no session, so :func:`object_tool` tools cannot be used here.

    Args:
        name: The Restate service name (``POST /<name>/run``).
        agents: Every agent (handoff targets included).
        start_agent: The agent answering the message.
        client: The model client, or a function making one in the serving process.
        settings: Loop settings.
        retry_policy: How the engine retries an invocation whose attempt failed; a fast policy by default.
        description: Shown in the Restate UI.

    Returns:
        The service; bind it into a ``restate.app``.

    Raises:
        ValueError: If agent names repeat, ``start_agent`` is unknown, or a handoff names an unknown agent.
    """
    registry = agent_registry(agents, start_agent)
    cfg = settings or LoopSettings()
    models = LazyClient(client)
    install_progress_driver()  # Tasks awaiting durable futures at once must not stall (see _progress).
    service = restate.Service(
        name,
        description=description or f"Stateless agent {start_agent!r}: POST a JSON string to /{name}/run.",
        invocation_retry_policy=retry_policy or default_retry_policy(),
    )

    @service.handler(name="run", input_serde=RawBytes(), accept="*/*")
    async def run(ctx: restate.Context, body: bytes) -> str:
        text = parse_user_message(body, cfg.max_message_chars, f"{name}/run")
        state = TurnState(
            agents=registry,
            agent=registry[start_agent],
            history=[ChatMessage(role="user", text=text)],
            client=models.get(),
            settings=cfg,
            invocation_id=ctx.request().id,
        )
        return await run_turn(ctx, state)

    return service
