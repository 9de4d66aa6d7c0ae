"""Serving agents as a session: a Virtual Object keyed by session id. Private module.

Handlers of a session object named ``S``:

* ``message`` (exclusive): one user message, one durable turn. A new message waits until the running turn ends.
* ``interrupt`` (shared): a user message that cannot wait. It cancels the running turn (if any) and then runs as
  ``message``; the new turn sees the interrupted turn's history, so nothing is lost.
* ``remind`` (exclusive): adds ``Reminder: <text>`` to the history; the target of delayed sends (reminders).
* ``history`` (shared): the :class:`SessionSnapshot` plus the session's token ``usage``, readable while a turn runs.

The history is stored incrementally (:mod:`resilient_agents._chunked_state`): a small :class:`SessionHead` under
``session`` and the messages in chunks under ``session:items:<n>``, one per turn, so a turn writes what it adds.
A turn loads only the newest messages that fit the session's :class:`HistoryLimit` (the model input stays
bounded however long the conversation gets). Sessions stored as a whole :class:`SessionSnapshot` (schema
version 1) are read as they are and moved into chunks by their first write.

The running turn's invocation id is kept under :data:`RUNNING_TURN_KEY` so that ``interrupt`` knows what to cancel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import restate
from pydantic import Field
from restate.serde import Serde

from resilient_agents._chunked_state import ChunkedItems, Item
from resilient_agents._durable import TypeAdapterSerde
from resilient_agents._history_window import HistoryLimit, window_start
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
from ._types import ChatMessage, Reminder, SessionHead, SessionSnapshot

SESSION_STATE_KEY = "session"
"""The state key of a session's :class:`SessionHead`; its messages live under ``session:items:<n>``."""

RUNNING_TURN_KEY = "running_turn"
"""The state key holding the invocation id of the turn that is running (absent when none is)."""

_STORED_SERDE: Serde[SessionSnapshot | SessionHead] = TypeAdapterSerde(
    Annotated[SessionSnapshot | SessionHead, Field(discriminator="schema_version")]
)
_HEAD_SERDE: PydanticSerde[SessionHead] = PydanticSerde(SessionHead)
_LABEL = None  # The loop leaves its state entries unnamed; its named entries are its steps.


async def _read_stored(
    ctx: restate.ObjectContext | restate.ObjectSharedContext, start_agent: str
) -> tuple[SessionHead, ChunkedItems]:
    """The stored head and the history's chunks; a version-1 snapshot becomes a head with its history in memory."""
    stored = await ctx.get(SESSION_STATE_KEY, serde=_STORED_SERDE)
    if isinstance(stored, SessionSnapshot):  # Written by schema version 1: moved into chunks by the first write.
        head = SessionHead(current_agent=stored.current_agent, turn_running=stored.turn_running)
        legacy = [message.model_dump(mode="json") for message in stored.history]
        return head, ChunkedItems(ctx, SESSION_STATE_KEY, head.log, legacy=legacy, label=_LABEL)
    head = stored if stored is not None else SessionHead(current_agent=start_agent)
    return head, ChunkedItems(ctx, SESSION_STATE_KEY, head.log, label=_LABEL)


def _calls(message: Item) -> list[str]:
    return [str(call.get("call_id")) for call in message.get("tool_calls") or ()]


def _answers(message: Item) -> str | None:
    return str(message.get("call_id")) if message.get("role") == "tool" else None


def _is_user(message: Item) -> bool:
    return message.get("role") == "user"


async def load_window(items: ChunkedItems, limit: HistoryLimit) -> list[ChatMessage]:
    """The newest stored messages that fit ``limit`` (whole turns; no tool output without its call)."""
    if limit.unlimited:
        window = await items.all()
    else:
        tail = await items.tail(limit.exceeded)
        window = tail[
            window_start(tail, limit, size=items.chars, calls=_calls, answers=_answers, is_turn_start=_is_user) :
        ]
    return [ChatMessage.model_validate(message) for message in window]


class _HistoryWriter:
    """Writes what a turn adds: the messages appended to the turn's history since the last write, then the head."""

    def __init__(self, ctx: restate.ObjectContext, head: SessionHead, items: ChunkedItems, written: int) -> None:
        self._ctx = ctx
        self._head = head
        self._items = items
        self._written = written

    async def save(self, state: TurnState, *, running: bool) -> None:
        new = state.history[self._written :]
        await self._items.append([message.model_dump(mode="json") for message in new])
        self._written = len(state.history)
        self._items.migrate()  # A version-1 snapshot's history moves into chunks before the head replaces it.
        self._head.current_agent, self._head.turn_running = state.agent.name, running
        self._ctx.set(SESSION_STATE_KEY, self._head, serde=_HEAD_SERDE)


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
        history_limit: HistoryLimit | None = None,
    ) -> None:
        self.name = name
        self.authorize = authorize
        self.prices = prices
        self.registry = agent_registry(agents, start_agent)
        self.start_agent = start_agent
        self.models = LazyClient(client)
        self.cfg = cfg
        self.history_limit = history_limit if history_limit is not None else HistoryLimit()

    def check(self, ctx: restate.ObjectContext | restate.ObjectSharedContext) -> None:
        """Refuse the caller unless the authorizer lets it use this session (before any state is read)."""
        check_session_access(self.authorize, ctx.key(), ctx.request().headers)

    async def message(self, ctx: restate.ObjectContext, body: bytes) -> str:
        self.check(ctx)
        text = parse_user_message(body, self.cfg.max_message_chars, f"{self.name}/{ctx.key()}/message")
        head, items = await _read_stored(ctx, self.start_agent)
        window = await load_window(items, self.history_limit)
        state = TurnState(
            agents=self.registry,
            # An agent that a newer deployment removed cannot answer: start over at the start agent.
            agent=self.registry.get(head.current_agent, self.registry[self.start_agent]),
            history=list(window),
            client=self.models.get(),
            settings=self.cfg,
            session_key=ctx.key(),
            invocation_id=ctx.request().id,
        )
        # A turn that ended without answering its tool calls (e.g. cancelled twice) must not break this one.
        close_open_calls(state)
        state.append(ChatMessage(role="user", text=text))
        items.seal()  # This turn's messages go into a chunk of their own.
        writer = _HistoryWriter(ctx, head, items, written=len(window))

        async def checkpoint(current: TurnState) -> None:
            await writer.save(current, running=True)

        usage = await read_usage(ctx)
        ctx.set(RUNNING_TURN_KEY, state.invocation_id)
        await checkpoint(state)
        try:
            answer = await run_turn(ctx, state, checkpoint)
        except restate.TerminalError as error:
            if not is_cancellation(error):
                # The turn failed for good (e.g. the max-turns guard): keep what happened, mark the turn over.
                await self._finish(ctx, writer, state, usage)
                raise
            # Interrupted: keep the history consistent (every tool call answered) for the next turn.
            close_open_calls(state)
            await _mark_interrupted(ctx, state)
            answer = self.cfg.interrupted_message
        await self._finish(ctx, writer, state, usage)
        return answer

    async def _finish(
        self, ctx: restate.ObjectContext, writer: _HistoryWriter, state: TurnState, usage: SessionUsage
    ) -> None:
        await writer.save(state, running=False)
        write_turn_usage(ctx, usage, state.usage)
        ctx.clear(RUNNING_TURN_KEY)

    async def history(self, ctx: restate.ObjectSharedContext) -> dict[str, Any]:
        self.check(ctx)
        head, items = await _read_stored(ctx, self.start_agent)
        history = [ChatMessage.model_validate(message) for message in await items.all()]
        snapshot = SessionSnapshot(current_agent=head.current_agent, history=history, turn_running=head.turn_running)
        answer = snapshot.model_dump(mode="json")
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
        head, items = await _read_stored(ctx, self.start_agent)
        items.seal()
        await items.append([ChatMessage(role="assistant", text=f"Reminder: {reminder.text}").model_dump(mode="json")])
        items.migrate()
        ctx.set(SESSION_STATE_KEY, head, serde=_HEAD_SERDE)


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
    history_limit: HistoryLimit | None = None,
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
        history_limit: How much of the stored history each turn sends to the model (default
            :class:`~resilient_agents.loop.HistoryLimit` ``()``: the newest 200 messages, at most 200,000
            characters, cut at a turn so tool calls keep their outputs). ``history`` still shows everything.

    Returns:
        The Virtual Object; bind it into a ``restate.app``.

    Raises:
        ValueError: If agent names repeat, ``start_agent`` is unknown, or a handoff names an unknown agent.
    """
    session = _Session(name, agents, start_agent, client, settings or LoopSettings(), authorize, prices, history_limit)
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
