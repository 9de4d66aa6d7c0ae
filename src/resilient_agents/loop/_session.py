"""Serving agents: a session Virtual Object and a stateless agent service. Private module."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import restate

from ._agent import LoopAgent
from ._client import ModelClient
from ._input import RawBytes, parse_user_message
from ._phases._outcome import TurnState
from ._runner import run_turn
from ._serde import PydanticSerde
from ._settings import LoopSettings, default_retry_policy
from ._types import ChatMessage, SessionSnapshot

SESSION_STATE_KEY = "session"
"""The state key under which a session object stores its :class:`SessionSnapshot`."""

ClientSource: TypeAlias = ModelClient | Callable[[], ModelClient]
"""A model client, or a function making one (called once, on first use, inside the serving process)."""

_SNAPSHOT_SERDE: PydanticSerde[SessionSnapshot] = PydanticSerde(SessionSnapshot)


def _registry(agents: Sequence[LoopAgent], start_agent: str) -> dict[str, LoopAgent]:
    registry: dict[str, LoopAgent] = {}
    for agent in agents:
        if agent.name in registry:
            raise ValueError(f"two agents are named {agent.name!r}; agent names must be unique")
        registry[agent.name] = agent
    if start_agent not in registry:
        raise ValueError(f"start_agent {start_agent!r} is not one of the agents {sorted(registry)}")
    for agent in agents:
        unknown = [target for target in agent.handoffs if target not in registry]
        if unknown:
            raise ValueError(f"agent {agent.name!r} hands off to unknown agents {unknown}; add them to `agents`")
    return registry


class _LazyClient:
    """Resolves a :data:`ClientSource` once, when the first turn needs it (not at import time)."""

    def __init__(self, source: ClientSource) -> None:
        self._source = source
        self._client: ModelClient | None = source if isinstance(source, ModelClient) else None

    def get(self) -> ModelClient:
        if self._client is None:
            factory = self._source
            assert callable(factory)
            self._client = factory()
        return self._client


def _snapshot(state: TurnState, *, running: bool) -> SessionSnapshot:
    return SessionSnapshot(current_agent=state.agent.name, history=list(state.history), turn_running=running)


def loop_session_object(
    name: str,
    agents: Sequence[LoopAgent],
    start_agent: str,
    client: ClientSource,
    *,
    settings: LoopSettings | None = None,
    retry_policy: restate.InvocationRetryPolicy | None = None,
    description: str | None = None,
) -> restate.VirtualObject:
    """Build a session: a Virtual Object keyed by session id (e.g. the customer id) that runs agent turns.

    Handlers:

    * ``message`` (exclusive): a user message (JSON string) in, the answer out. One durable turn: every model
      call is a journaled step ``llm: <agent> #<n>``, tools are journaled actions, the history and the current
      agent are written to the object's state after every phase.
    * ``history`` (shared): the :class:`SessionSnapshot` (history, current agent, whether a turn is running);
      readable while a turn runs.

    Tools on Virtual Objects (:func:`object_tool`) are called with this object's key: the session's identity.

    Args:
        name: The Restate object name, e.g. ``"BankSession"`` (``POST /BankSession/<id>/message``).
        agents: Every agent of the session (handoff targets included).
        start_agent: The agent answering a new session's first message.
        client: The model client, or a function making one in the serving process.
        settings: Loop settings (max turns, retries, input limits).
        retry_policy: How the engine retries an invocation whose attempt failed; a fast policy by default.
        description: Shown in the Restate UI.

    Returns:
        The Virtual Object; bind it into a ``restate.app``.

    Raises:
        ValueError: If agent names repeat, ``start_agent`` is unknown, or a handoff names an unknown agent.
    """
    registry = _registry(agents, start_agent)
    cfg = settings or LoopSettings()
    models = _LazyClient(client)
    session = restate.VirtualObject(
        name,
        description=description or f"Agent session keyed by session id: POST a JSON string to /{name}/<id>/message.",
        invocation_retry_policy=retry_policy or default_retry_policy(),
    )

    @session.handler(name="message", input_serde=RawBytes(), accept="*/*")
    async def message(ctx: restate.ObjectContext, body: bytes) -> str:
        text = parse_user_message(body, cfg.max_message_chars, f"{name}/{ctx.key()}/message")
        stored = await ctx.get(SESSION_STATE_KEY, serde=_SNAPSHOT_SERDE)
        snapshot = stored or SessionSnapshot(current_agent=start_agent)
        state = TurnState(
            agents=registry,
            # An agent that a newer deployment removed cannot answer: start over at the start agent.
            agent=registry.get(snapshot.current_agent, registry[start_agent]),
            history=[*snapshot.history, ChatMessage(role="user", text=text)],
            client=models.get(),
            settings=cfg,
            session_key=ctx.key(),
        )

        async def checkpoint(current: TurnState) -> None:
            ctx.set(SESSION_STATE_KEY, _snapshot(current, running=True), serde=_SNAPSHOT_SERDE)

        await checkpoint(state)
        try:
            answer = await run_turn(ctx, state, checkpoint)
        except restate.TerminalError:
            # The turn failed for good (e.g. the max-turns guard): keep what happened, mark the turn over.
            ctx.set(SESSION_STATE_KEY, _snapshot(state, running=False), serde=_SNAPSHOT_SERDE)
            raise
        ctx.set(SESSION_STATE_KEY, _snapshot(state, running=False), serde=_SNAPSHOT_SERDE)
        return answer

    @session.handler(name="history", kind="shared", output_serde=_SNAPSHOT_SERDE)
    async def history(ctx: restate.ObjectSharedContext) -> SessionSnapshot:
        stored = await ctx.get(SESSION_STATE_KEY, serde=_SNAPSHOT_SERDE)
        return stored or SessionSnapshot(current_agent=start_agent)

    return session


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
    registry = _registry(agents, start_agent)
    cfg = settings or LoopSettings()
    models = _LazyClient(client)
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
        )
        return await run_turn(ctx, state)

    return service
