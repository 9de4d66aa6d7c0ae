"""``RestateSession``: the Agents SDK's session memory kept in a Restate Virtual Object's state.

Private module. The conversation lives under one state key as a :class:`SessionRecord`. Every change is
written at once with ``ctx.set``: a state write is a journal entry, so it happens once per turn and a
replay after a crash reproduces it (reads on replay return the journaled value) instead of repeating it.

When the history grows: the Agents SDK calls :meth:`RestateSession.add_items` with the user's message
before the first model call and again after each model response together with its tool results;
:func:`session_object` also stores each model response that calls tools as ``pending_items`` as soon as
it is journaled, before its tools run.

Visibility (measured on restate-server 1.7 with restate-sdk 1.3): the engine applies a state write of an
exclusive handler to the object's state as soon as it records the journal entry, not when the
invocation ends, so a shared handler (``history``) sees the turn so far while the turn runs, waits in a
slow tool, or is suspended. The SDK, however, sends journal entries only when the handler next awaits
an unfinished durable operation; so every write here is followed by an explicit send (see
:func:`_send_journal_now`), or a plain tool running for minutes would hide the write that preceded it.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, cast

import restate
from agents.items import TResponseInputItem
from agents.memory import SessionSettings
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from restate.serde import Serde

from resilient_agents._durable import TypeAdapterSerde, unique_step_name
from resilient_agents.errors import ResilientAgentsError

from ._context import handler_context

SESSION_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`SessionRecord`. Bump it, and keep reading the old one, when the shape changes."""

SESSION_STATE_KEY = "agents_session"
"""The Virtual Object state key under which :class:`RestateSession` keeps its :class:`SessionRecord`."""


class SessionRecord(BaseModel):
    """One conversation as stored in Virtual Object state: plain JSON, versioned.

    ``items`` are the Agents SDK's input items (``TResponseInputItem`` dicts) exactly as the SDK handed
    them over, so the next turn's model request is built from the same items a plain SDK session would
    give it.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SESSION_SCHEMA_VERSION
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


_RECORD_SERDE: Serde[SessionRecord] = TypeAdapterSerde(SessionRecord)

CONTEXT_STATE_KEY = "agents_context"
"""State key of a session's run context (see ``session_object(context=...)``)."""


async def read_session_record(ctx: restate.ObjectSharedContext | restate.ObjectContext) -> SessionRecord:
    """Read the stored conversation of the current object key (an empty record when there is none).

    Args:
        ctx: The context of a shared or exclusive handler of the object.

    Returns:
        The stored record.
    """
    record = await ctx.get(SESSION_STATE_KEY, serde=_RECORD_SERDE, entry_name=unique_step_name(ctx, "session: read"))
    return record if record is not None else SessionRecord()


def _as_json_item(item: TResponseInputItem) -> dict[str, Any]:
    # Normalised to plain JSON at the border, so the items in memory equal the items a replay reads back.
    value: Any = to_jsonable_python(item)
    if not isinstance(value, dict):
        raise ResilientAgentsError(f"a session item must be a JSON object, got {type(item).__name__!r}")
    return cast(dict[str, Any], value)


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
    ) -> None:
        self._ctx = ctx if ctx is not None else _current_object_context()
        self._run_context = run_context
        self._saved_context = run_context.model_dump(mode="json") if run_context is not None else None
        self.session_id: str = session_id if session_id is not None else self._ctx.key()
        self.session_settings: SessionSettings | None = session_settings
        self._record: SessionRecord | None = None

    # -- the SDK's Session protocol ------------------------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """Return the conversation, oldest first; with ``limit``, only the latest ``limit`` items."""
        items = (await self._load()).items
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return cast(list[TResponseInputItem], copy.deepcopy(items))

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append ``items`` to the conversation and write it to state at once."""
        if not items:
            return
        record = await self._load()
        record.items.extend(_as_json_item(item) for item in items)
        # The SDK adds a model response's items once its tools are done: they are no longer pending.
        record.pending_items = []
        await self._write(record, f"session: add {len(items)} item{'s' if len(items) != 1 else ''}")

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove and return the latest item, or ``None`` when the conversation is empty."""
        record = await self._load()
        if not record.items:
            return None
        item = record.items.pop()
        await self._write(record, "session: pop item")
        return cast(TResponseInputItem, item)

    async def clear_session(self) -> None:
        """Forget the conversation (the current agent and the turn count stay)."""
        record = await self._load()
        record.items = []
        record.pending_items = []
        await self._write(record, "session: clear")

    # -- turn bookkeeping (used by session_object) ---------------------------------------------------------

    @property
    def context(self) -> restate.ObjectContext:
        """The exclusive handler's context this session reads and writes through."""
        return self._ctx

    async def record(self) -> SessionRecord:
        """Return the stored record (read from state once, then kept in memory; treat it as read-only)."""
        return await self._load()

    async def begin_turn(self) -> None:
        """Mark a turn as running; written together with the SDK's first write (the user's message)."""
        (await self._load()).turn_running = True

    async def note_agent(self, agent_name: str) -> None:
        """Remember the agent that is answering now; written with the next state write."""
        (await self._load()).current_agent = agent_name

    async def set_pending(self, items: list[TResponseInputItem]) -> None:
        """Store a model response's output before the SDK adds it (while its tools run), and write it."""
        record = await self._load()
        record.pending_items = [_as_json_item(item) for item in items]
        await self._write(record, "session: model response")

    async def end_turn(self, last_agent: str | None, *, completed: bool = True) -> None:
        """Close the turn: store who answered (sticky agent) and count the turn, then write.

        Args:
            last_agent: The agent that spoke last, or ``None`` to keep the stored one.
            completed: Whether the turn produced an answer (failed turns are not counted).
        """
        record = await self._load()
        if last_agent is not None:
            record.current_agent = last_agent
        record.turn_running = False
        record.pending_items = []
        if completed:
            record.turns += 1
        await self._write(record, "session: end turn")

    # -- state access --------------------------------------------------------------------------------------

    async def _load(self) -> SessionRecord:
        if self._record is None:
            self._record = await read_session_record(self._ctx)
        return self._record

    async def _write(self, record: SessionRecord, entry_name: str) -> None:
        name = unique_step_name(self._ctx, entry_name)
        self._ctx.set(SESSION_STATE_KEY, record, serde=_RECORD_SERDE, entry_name=name)
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
