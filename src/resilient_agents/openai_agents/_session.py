"""``RestateSession``: the Agents SDK's session memory kept in a Restate Virtual Object's state.

Private module. A conversation is stored incrementally (see :mod:`resilient_agents._chunked_state`): a small
head record (:class:`SessionHead`) under ``agents_session`` and the items in chunks under
``agents_session:items:<n>``, one chunk per turn. Every change is written at once with ``ctx.set``, but only
what changed: the open chunk (this turn's items) and the head. A state write is a journal entry, so a replay
after a crash reproduces it (reads on replay return the journaled value) instead of repeating it.
Conversations stored by earlier versions (:class:`SessionRecord`, schema version 1: every item inline) are
read as they are and moved into chunks by their first write.

When the history grows: the Agents SDK calls :meth:`RestateSession.add_items` with the user's message
before the first model call and again after each model response together with its tool results;
:func:`session_object` also stores each model response that calls tools as ``pending_items`` as soon as
it is journaled, before its tools run. What the model sees is bounded by a :class:`HistoryLimit`
(:meth:`RestateSession.get_items`); the whole history stays readable.

Visibility (measured on restate-server 1.7 with restate-sdk 1.3): the engine applies a state write of an
exclusive handler to the object's state as soon as it records the journal entry, not when the
invocation ends, so a shared handler (``history``) sees the turn so far while the turn runs, waits in a
slow tool, or is suspended. The SDK, however, sends journal entries only when the handler next awaits
an unfinished durable operation; so every write here is followed by an explicit send (see
:func:`_send_journal_now`), or a plain tool running for minutes would hide the write that preceded it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeAlias, cast

import restate
from agents.items import TResponseInputItem
from agents.memory import SessionSettings
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from restate.serde import Serde

from resilient_agents._chunked_state import ChunkedItems, ChunkIndex, Item, item_chars
from resilient_agents._durable import TypeAdapterSerde, unique_step_name
from resilient_agents._history_window import HistoryLimit, window_start
from resilient_agents.errors import ResilientAgentsError

from ._context import handler_context

SESSION_SCHEMA_VERSION: Literal[2] = 2
"""Version of the stored session (:class:`SessionHead` plus chunks). Version 1 was :class:`SessionRecord`
(every item inline); it is still read. Bump it, and keep reading the old ones, when the shape changes."""

SESSION_STATE_KEY = "agents_session"
"""The Virtual Object state key of a session's head record; its items live under ``agents_session:items:<n>``."""


class SessionRecord(BaseModel):
    """One whole conversation: what the ``history`` handler answers, and how schema version 1 stored it.

    ``items`` are the Agents SDK's input items (``TResponseInputItem`` dicts) exactly as the SDK handed
    them over, so the next turn's model request is built from the same items a plain SDK session would
    give it.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    """Schema version of this record."""
    items: list[dict[str, Any]] = Field(default_factory=list)
    """The conversation, oldest first: user messages, model outputs, tool calls and their outputs."""
    pending_items: list[dict[str, Any]] = Field(default_factory=list)
    """Output of the latest model response of a running turn that the SDK has not added to ``items`` yet
    (for example a tool call whose tool is still running or waiting for approval)."""
    current_agent: str | None = None
    """Name of the agent that answers the next message (the one that spoke last); ``None`` before the first turn."""
    turns: int = 0
    """How many turns (user messages) have completed."""
    turn_running: bool = False
    """Whether a turn is in progress (it may be running, retrying or suspended)."""


class SessionHead(BaseModel):
    """The head record of a stored conversation (schema version 2): everything but the items, and where
    the items' chunks are. Small and of constant size, so writing it every time costs little."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = SESSION_SCHEMA_VERSION
    """Schema version of this record."""
    log: ChunkIndex = Field(default_factory=ChunkIndex)
    """Where the conversation's items are (chunks under ``agents_session:items:<n>``) and how many."""
    pending_items: list[dict[str, Any]] = Field(default_factory=list)
    """As :attr:`SessionRecord.pending_items`."""
    current_agent: str | None = None
    """As :attr:`SessionRecord.current_agent`."""
    turns: int = 0
    """As :attr:`SessionRecord.turns`."""
    turn_running: bool = False
    """As :attr:`SessionRecord.turn_running`."""


StoredSession: TypeAlias = Annotated[SessionRecord | SessionHead, Field(discriminator="schema_version")]
"""What ``agents_session`` holds: a version-1 record or a version-2 head."""

_STORED_SERDE: Serde[SessionRecord | SessionHead] = TypeAdapterSerde(StoredSession)
_HEAD_SERDE: Serde[SessionHead] = TypeAdapterSerde(SessionHead)

CONTEXT_STATE_KEY = "agents_context"
"""State key of a session's run context (see ``session_object(context=...)``)."""

_LABEL = "session"


async def _read_stored(ctx: restate.ObjectSharedContext | restate.ObjectContext) -> tuple[SessionHead, ChunkedItems]:
    """The stored head and the items' chunks; a version-1 record becomes a head with its items held in memory."""
    stored = await ctx.get(SESSION_STATE_KEY, serde=_STORED_SERDE, entry_name=unique_step_name(ctx, "session: read"))
    if isinstance(stored, SessionRecord):  # Written by schema version 1: moved into chunks by the first write.
        head = SessionHead(
            pending_items=stored.pending_items,
            current_agent=stored.current_agent,
            turns=stored.turns,
            turn_running=stored.turn_running,
        )
        return head, ChunkedItems(ctx, SESSION_STATE_KEY, head.log, legacy=stored.items, label=_LABEL)
    head = stored if stored is not None else SessionHead()
    return head, ChunkedItems(ctx, SESSION_STATE_KEY, head.log, label=_LABEL)


async def read_session_record(ctx: restate.ObjectSharedContext | restate.ObjectContext) -> SessionRecord:
    """Read the whole stored conversation of the current object key (an empty record when there is none).

    Args:
        ctx: The context of a shared or exclusive handler of the object.

    Returns:
        The conversation, every item included (every chunk is read).
    """
    head, items = await _read_stored(ctx)
    return SessionRecord(
        items=await items.all(),
        pending_items=head.pending_items,
        current_agent=head.current_agent,
        turns=head.turns,
        turn_running=head.turn_running,
    )


async def clear_session_state(ctx: restate.ObjectContext) -> None:
    """Forget the stored conversation of the current object key: its head and every chunk."""
    _, items = await _read_stored(ctx)
    items.clear()
    ctx.clear(SESSION_STATE_KEY)


def _as_json_item(item: TResponseInputItem) -> dict[str, Any]:
    # Normalised to plain JSON at the border, so the items in memory equal the items a replay reads back.
    value: Any = to_jsonable_python(item)
    if not isinstance(value, dict):
        raise ResilientAgentsError(f"a session item must be a JSON object, got {type(item).__name__!r}")
    return cast(dict[str, Any], value)


def _calls(item: Item) -> list[str]:
    kind, call_id = item.get("type"), item.get("call_id")
    return [call_id] if isinstance(kind, str) and kind.endswith("_call") and isinstance(call_id, str) else []


def _answers(item: Item) -> str | None:
    kind, call_id = item.get("type"), item.get("call_id")
    return call_id if isinstance(kind, str) and kind.endswith("_output") and isinstance(call_id, str) else None


def _is_user_message(item: Item) -> bool:
    return item.get("role") == "user" and item.get("type", "message") == "message"


def model_window(items: list[Item], limit: HistoryLimit, *, size: Callable[[Item], int] = item_chars) -> list[Item]:
    """The newest items that fit ``limit``, cut so that no tool output is sent without its call."""
    start = window_start(items, limit, size=size, calls=_calls, answers=_answers, is_turn_start=_is_user_message)
    return items[start:]


class RestateSession:
    """The Agents SDK ``Session`` protocol on top of a Virtual Object's state.

    Use it in an exclusive handler of a Virtual Object, one object key per conversation::

        @session.handler()
        async def message(ctx: restate.ObjectContext, text: str) -> str:
            result = await DurableRunner.run(agent, text, session=RestateSession(ctx))
            return str(result.final_output)

    :func:`session_object` builds such an object for you, with sticky agents and a ``history`` handler.

    Args:
        ctx: The context of the running exclusive handler (default: the current one).
        session_id: The SDK's session id (default: the object key).
        session_settings: The SDK's session settings (e.g. a default ``limit`` for reading history).
        run_context: The session's run context (a pydantic model), saved under ``agents_context`` with every
            write of the conversation when it changed, so stored context and history always agree.
        history_limit: How much of the stored history :meth:`get_items` hands to the model (default:
            :class:`HistoryLimit` ``()``, 200 items and 200,000 characters).

    Raises:
        ResilientAgentsError: When created outside a Restate handler.
    """

    def __init__(
        self,
        ctx: restate.ObjectContext | None = None,
        *,
        session_id: str | None = None,
        session_settings: SessionSettings | None = None,
        run_context: BaseModel | None = None,
        history_limit: HistoryLimit | None = None,
    ) -> None:
        self._ctx = ctx if ctx is not None else _current_object_context()
        self._run_context = run_context
        self._saved_context = run_context.model_dump(mode="json") if run_context is not None else None
        self.session_id: str = session_id if session_id is not None else self._ctx.key()
        self.session_settings: SessionSettings | None = session_settings
        self.history_limit = history_limit if history_limit is not None else HistoryLimit()
        self._head: SessionHead | None = None
        self._items: ChunkedItems | None = None

    # -- the SDK's Session protocol ------------------------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """Return the history the model sees, oldest first: the newest items within :attr:`history_limit`
        (whole turns; a tool output always comes with its call). With ``limit``, the latest ``limit`` items."""
        store = await self._store()
        if limit is not None:
            if limit <= 0:
                return []
            items = (await store.tail(lambda count, _: count >= limit))[-limit:]
        elif self.history_limit.unlimited:
            items = await store.all()
        else:
            budget = self.history_limit
            items = model_window(await store.tail(budget.exceeded), budget, size=store.chars)
        return cast(list[TResponseInputItem], copy.deepcopy(items))

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append ``items`` to the conversation and write them to state at once."""
        if not items:
            return
        await (await self._store()).append([_as_json_item(item) for item in items])
        # The SDK adds a model response's items once its tools are done: they are no longer pending.
        (await self._load()).pending_items = []
        await self._write(f"session: add {len(items)} item{'s' if len(items) != 1 else ''}")

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the latest item, or ``None`` when the conversation is empty."""
        item = await (await self._store()).pop()
        if item is None:
            return None
        await self._write("session: pop item")
        return cast(TResponseInputItem, item)

    async def clear_session(self) -> None:
        """Forget the conversation (the current agent and the turn count stay)."""
        (await self._store()).clear()
        (await self._load()).pending_items = []
        await self._write("session: clear")

    # -- turn bookkeeping (used by session_object) ---------------------------------------------------------

    @property
    def context(self) -> restate.ObjectContext:
        """The exclusive handler's context this session reads and writes through."""
        return self._ctx

    async def record(self) -> SessionHead:
        """Return the stored head record (read from state once, then kept in memory; treat it as read-only)."""
        return await self._load()

    async def begin_turn(self) -> None:
        """Mark a turn as running (written with the SDK's first write, the user's message); the turn's items
        go into a chunk of their own."""
        (await self._load()).turn_running = True
        (await self._store()).seal()

    async def note_agent(self, agent_name: str) -> None:
        """Remember the agent that is answering now; written with the next state write."""
        (await self._load()).current_agent = agent_name

    async def set_pending(self, items: list[TResponseInputItem]) -> None:
        """Store a model response's output before the SDK adds it (while its tools run), and write it."""
        (await self._load()).pending_items = [_as_json_item(item) for item in items]
        await self._write("session: model response")

    async def end_turn(self, last_agent: str | None, *, completed: bool = True) -> None:
        """Close the turn: store who answered (sticky agent) and count the turn, then write.

        Args:
            last_agent: The agent that spoke last, or ``None`` to keep the stored one.
            completed: Whether the turn produced an answer (failed turns are not counted).
        """
        head = await self._load()
        if last_agent is not None:
            head.current_agent = last_agent
        head.turn_running = False
        head.pending_items = []
        if completed:
            head.turns += 1
        await self._write("session: end turn")

    # -- state access --------------------------------------------------------------------------------------

    async def _load(self) -> SessionHead:
        if self._head is None:
            self._head, self._items = await _read_stored(self._ctx)
        return self._head

    async def _store(self) -> ChunkedItems:
        await self._load()
        assert self._items is not None  # Loaded together with the head.
        return self._items

    async def _write(self, entry_name: str) -> None:
        head, store = await self._load(), await self._store()
        # A version-1 record moves its items into chunks with its first write, before the head says so.
        store.migrate()
        name = unique_step_name(self._ctx, entry_name)
        self._ctx.set(SESSION_STATE_KEY, head, serde=_HEAD_SERDE, entry_name=name)
        if self._run_context is not None:
            context = self._run_context.model_dump(mode="json")
            if context != self._saved_context:
                self._ctx.set(CONTEXT_STATE_KEY, context, entry_name=unique_step_name(self._ctx, "session: context"))
                self._saved_context = context
        await _send_journal_now(self._ctx)


async def _send_journal_now(ctx: restate.ObjectContext) -> None:
    # The Restate SDK sends new journal entries to the engine only when the handler next awaits an
    # unfinished durable operation. A write followed by a plain (unjournaled) tool that runs for minutes
    # would stay in the SDK's buffer all that time, invisible to the ``history`` handler. Restate SDK 1.x
    # has a method that sends the buffer; if a later version drops it, writes land with the next step.
    send = getattr(ctx, "take_and_send_output", None)
    if send is not None:
        await send()


def _current_object_context() -> restate.ObjectContext:
    ctx = handler_context()
    if ctx is None:
        raise ResilientAgentsError(
            "RestateSession() was created outside a Restate handler: create it inside an exclusive handler of a "
            "Virtual Object (one object key per conversation), or use resilient_agents.openai_agents.session_object"
        )
    return cast(restate.ObjectContext, ctx)
