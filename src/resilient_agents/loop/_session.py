"""Serving agents as a session: a Virtual Object keyed by session id. Private module.

Handlers of a session object named ``S``:

* ``message`` (exclusive): one user message, one durable turn. A new message waits until the running turn ends.
* ``interrupt`` (shared): a user message that cannot wait. It cancels the running turn (if any) and then runs as
  ``message``; the new turn sees the interrupted turn's history, so nothing is lost.
* ``remind`` (exclusive): adds ``Reminder: <text>`` to the history; the target of delayed sends (reminders).
* ``history`` (shared): the :class:`SessionSnapshot` plus the session's token ``usage``, readable while a turn runs.

The running turn's invocation id is kept under :data:`RUNNING_TURN_KEY` so that ``interrupt`` knows what to cancel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import restate

from resilient_agents._progress import install as install_progress_driver
from resilient_agents._usage_state import history_usage, read_usage, write_turn_usage
from resilient_agents.access import SessionAuthorizer, check_session_access
from resilient_agents.usage import ModelPrice, SessionUsage

from ._agent import LoopAgent
from ._input import RawBytes, parse_user_message
from ._phases._interrupt import close_open_calls, is_cancellation
from ._phases._outcome import TurnState
from ._registry import ClientSource, LazyClient, agent_registry
from ._runner import run_turn
from ._serde import PydanticSerde
from ._settings import LoopSettings, default_retry_policy
from ._types import ChatMessage, Reminder, SessionSnapshot

SESSION_STATE_KEY = "session"
"""The state key under which a session object stores its :class:`SessionSnapshot`."""

RUNNING_TURN_KEY = "running_turn"
"""The state key holding the invocation id of the turn that is running (absent when none is)."""

_SNAPSHOT_SERDE: PydanticSerde[SessionSnapshot] = PydanticSerde(SessionSnapshot)


def _snapshot(state: TurnState, *, running: bool) -> SessionSnapshot:
    return SessionSnapshot(current_agent=state.agent.name, history=list(state.history), turn_running=running)


async def _mark_interrupted(ctx: restate.ObjectContext, state: TurnState) -> None:
    """Journal a named step ``interrupted``, so the Restate UI shows where and why the turn stopped."""
    note = f"turn cancelled after {state.llm_calls} model call(s); the next turn continues from here"

    async def describe() -> str:
        return note

    try:
        await ctx.run_typed("interrupted", describe)
    except restate.TerminalError as error:
        if not is_cancellation(error):
            raise
        # Cancelled once more while noting the first cancellation: the turn is over all the same.


class _Session:
    """The handlers' shared configuration; each handler is a small method."""

    def __init__(
        self,
        name: str,
        agents: Sequence[LoopAgent],
        start_agent: str,
        client: ClientSource,
        cfg: LoopSettings,
        authorize: SessionAuthorizer | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
    ) -> None:
        self.name = name
        self.authorize = authorize
        self.prices = prices
        self.registry = agent_registry(agents, start_agent)
        self.start_agent = start_agent
        self.models = LazyClient(client)
        self.cfg = cfg

    async def load(self, ctx: restate.ObjectContext | restate.ObjectSharedContext) -> SessionSnapshot:
        stored = await ctx.get(SESSION_STATE_KEY, serde=_SNAPSHOT_SERDE)
        return stored or SessionSnapshot(current_agent=self.start_agent)

    def check(self, ctx: restate.ObjectContext | restate.ObjectSharedContext) -> None:
        """Refuse the caller unless the authorizer lets it use this session (before any state is read)."""
        check_session_access(self.authorize, ctx.key(), ctx.request().headers)

    async def message(self, ctx: restate.ObjectContext, body: bytes) -> str:
        self.check(ctx)
        text = parse_user_message(body, self.cfg.max_message_chars, f"{self.name}/{ctx.key()}/message")
        snapshot = await self.load(ctx)
        state = TurnState(
            agents=self.registry,
            # An agent that a newer deployment removed cannot answer: start over at the start agent.
            agent=self.registry.get(snapshot.current_agent, self.registry[self.start_agent]),
            history=list(snapshot.history),
            client=self.models.get(),
            settings=self.cfg,
            session_key=ctx.key(),
            invocation_id=ctx.request().id,
        )
        # A turn that ended without answering its tool calls (e.g. cancelled twice) must not break this one.
        close_open_calls(state)
        state.append(ChatMessage(role="user", text=text))

        async def checkpoint(current: TurnState) -> None:
            ctx.set(SESSION_STATE_KEY, _snapshot(current, running=True), serde=_SNAPSHOT_SERDE)

        usage = await read_usage(ctx)
        ctx.set(RUNNING_TURN_KEY, state.invocation_id)
        await checkpoint(state)
        try:
            answer = await run_turn(ctx, state, checkpoint)
        except restate.TerminalError as error:
            if not is_cancellation(error):
                # The turn failed for good (e.g. the max-turns guard): keep what happened, mark the turn over.
                self._finish(ctx, state, usage)
                raise
            # Interrupted: keep the history consistent (every tool call answered) for the next turn.
            close_open_calls(state)
            await _mark_interrupted(ctx, state)
            answer = self.cfg.interrupted_message
        self._finish(ctx, state, usage)
        return answer

    def _finish(self, ctx: restate.ObjectContext, state: TurnState, usage: SessionUsage) -> None:
        ctx.set(SESSION_STATE_KEY, _snapshot(state, running=False), serde=_SNAPSHOT_SERDE)
        write_turn_usage(ctx, usage, state.usage)
        ctx.clear(RUNNING_TURN_KEY)

    async def history(self, ctx: restate.ObjectSharedContext) -> dict[str, Any]:
        self.check(ctx)
        answer = (await self.load(ctx)).model_dump(mode="json")
        answer["usage"] = await history_usage(ctx, self.prices)
        return answer

    async def interrupt(self, ctx: restate.ObjectSharedContext, body: bytes) -> str:
        self.check(ctx)
        parse_user_message(body, self.cfg.max_message_chars, f"{self.name}/{ctx.key()}/interrupt")  # Fail early.
        running = await ctx.get(RUNNING_TURN_KEY, type_hint=str)
        if running:
            ctx.cancel_invocation(running)  # Journaled: the interrupting invocation shows what it cancelled.
        # The new turn queues behind the cancelled one, which ends at its next durable await.
        # The caller's headers go along, so that ``message`` authorizes the same caller.
        headers = _forwarded(ctx.request().headers) if self.authorize is not None else None
        answer = await ctx.generic_call(self.name, "message", body, key=ctx.key(), headers=headers)
        text = json.loads(answer)
        return text if isinstance(text, str) else json.dumps(text)

    async def remind(self, ctx: restate.ObjectContext, reminder: Reminder) -> None:
        snapshot = await self.load(ctx)
        snapshot.history.append(ChatMessage(role="assistant", text=f"Reminder: {reminder.text}"))
        ctx.set(SESSION_STATE_KEY, snapshot, serde=_SNAPSHOT_SERDE)


_NOT_FORWARDED = frozenset({"content-type", "content-length", "host", "idempotency-key", "connection", "te"})


def _forwarded(headers: dict[str, str]) -> dict[str, str]:
    """The request headers an internal call passes on (credentials included, transport headers not)."""
    return {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED and not k.lower().startswith(":")}


def loop_session_object(
    name: str,
    agents: Sequence[LoopAgent],
    start_agent: str,
    client: ClientSource,
    *,
    settings: LoopSettings | None = None,
    retry_policy: restate.InvocationRetryPolicy | None = None,
    description: str | None = None,
    authorize: SessionAuthorizer | None = None,
    prices: Mapping[str, ModelPrice] | None = None,
) -> restate.VirtualObject:
    """Build a session: a Virtual Object keyed by session id (e.g. the customer id) that runs agent turns.

    Handlers:

    * ``message`` (exclusive): a user message (JSON string) in, the answer out. One durable turn: every model
      call is a journaled step ``llm: <agent> #<n>``, tools are journaled actions, the history and the current
      agent are written to the object's state after every phase. A message sent while a turn runs waits.
    * ``interrupt`` (shared): like ``message``, but first cancels the running turn. The cancelled turn keeps
      what it did (finished tool outputs stay, unfinished tool calls get an "interrupted" output) and answers
      :attr:`LoopSettings.interrupted_message`; the new turn sees both messages.
    * ``remind`` (exclusive): a :class:`Reminder` in; adds ``Reminder: <text>`` to the history. The target of
      reminder tools (:func:`delayed_send_tool` with ``handler="remind"``).
    * ``history`` (shared): the :class:`SessionSnapshot` (history, current agent, whether a turn is running)
      plus ``usage``, the tokens of each turn and the session's total (see :mod:`resilient_agents.usage`, kept
      under the state key ``usage``); readable while a turn runs.

    Tools on Virtual Objects (:func:`object_tool`) are called with this object's key: the session's identity.
    So whoever may call ``/<name>/<key>/...`` acts as that customer: pass ``authorize`` (e.g.
    :func:`~resilient_agents.access.hmac_session_authorizer`) to check the caller. It is called with the key
    and the request headers first thing in ``message``, ``interrupt`` and ``history``; a refusal (HTTP
    401/403) reads and changes nothing. With ``authorize``, ``remind`` is private to the engine (tools and
    delayed sends reach it; the ingress does not).

    Args:
        name: The Restate object name, e.g. ``"BankSession"`` (``POST /BankSession/<id>/message``).
        agents: Every agent of the session (handoff targets included).
        start_agent: The agent answering a new session's first message.
        client: The model client, or a function making one in the serving process.
        settings: Loop settings (max turns, retries, input limits).
        retry_policy: How the engine retries an invocation whose attempt failed; a fast policy by default.
        description: Shown in the Restate UI.
        authorize: Who may use a session: ``authorize(key, headers) -> bool`` (see
            :data:`~resilient_agents.access.SessionAuthorizer`); None lets every caller of the ingress in.
        prices: Model prices in US dollars per million tokens, for the cost that ``history`` shows; by default
            the table in ``RESILIENT_AGENTS_PRICES`` (see :func:`resilient_agents.usage.load_prices`).

    Returns:
        The Virtual Object; bind it into a ``restate.app``.

    Raises:
        ValueError: If agent names repeat, ``start_agent`` is unknown, or a handoff names an unknown agent.
    """
    session = _Session(name, agents, start_agent, client, settings or LoopSettings(), authorize, prices)
    install_progress_driver()  # Tasks awaiting durable futures at once must not stall (see _progress).
    obj = restate.VirtualObject(
        name,
        description=description or f"Agent session keyed by session id: POST a JSON string to /{name}/<id>/message.",
        invocation_retry_policy=retry_policy or default_retry_policy(),
    )

    @obj.handler(name="message", input_serde=RawBytes(), accept="*/*")
    async def message(ctx: restate.ObjectContext, body: bytes) -> str:
        return await session.message(ctx, body)

    @obj.handler(name="interrupt", kind="shared", input_serde=RawBytes(), accept="*/*")
    async def interrupt(ctx: restate.ObjectSharedContext, body: bytes) -> str:
        return await session.interrupt(ctx, body)

    @obj.handler(name="remind", ingress_private=True if authorize is not None else None)
    async def remind(ctx: restate.ObjectContext, reminder: Reminder) -> None:
        await session.remind(ctx, reminder)

    @obj.handler(name="history", kind="shared")
    async def history(ctx: restate.ObjectSharedContext) -> dict[str, Any]:
        return await session.history(ctx)

    return obj
