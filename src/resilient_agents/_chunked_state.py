"""A session's history kept in chunks under state keys of their own, so a turn writes only what it adds.

Private module, shared by both session objects (Agents SDK path and native loop).

Layout in the Virtual Object's state, for a session whose head record lives under ``<head>``:

* ``<head>``: a small head record (the session's own fields) holding a :class:`ChunkIndex`: how many chunks
  there are, how many items they hold in total, and how full the last one is;
* ``<head>:items:<n>`` for ``n = 0, 1, ...``: a JSON list of history items, oldest first.

A session starts a new chunk for every turn (:meth:`ChunkedItems.seal`), and a chunk also closes once it holds
:data:`MAX_CHUNK_ITEMS` items or :data:`MAX_CHUNK_CHARS` characters. Appending rewrites only the open chunk (this
turn's items so far) and the caller then rewrites its head: the bytes written per turn depend on the turn, not
on the length of the conversation. Reading the latest items reads chunks from the end only; reading the whole
history reads every chunk.

Sessions written before this layout (schema version 1: every item inline in the head record) are read as they
are; their first write moves the items into chunks once (:class:`ChunkedItems` ``legacy``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeAlias, cast

import restate
from pydantic import BaseModel, ConfigDict
from restate.serde import Serde

from resilient_agents._durable import TypeAdapterSerde, unique_step_name

Item: TypeAlias = dict[str, Any]
"""One history item: plain JSON."""

MAX_CHUNK_ITEMS = 64
"""A chunk closes once it holds this many items."""
MAX_CHUNK_CHARS = 64_000
"""A chunk closes once its items' JSON is this long."""

_ITEMS_SERDE: Serde[list[Item]] = TypeAdapterSerde(list[dict[str, Any]])

ObjectContext: TypeAlias = restate.ObjectContext | restate.ObjectSharedContext


class ChunkIndex(BaseModel):
    """Where a history's chunks are: part of the session's head record."""

    model_config = ConfigDict(extra="forbid")

    chunks: int = 0
    """How many chunks there are: keys ``<head>:items:0`` to ``<head>:items:<chunks - 1>``."""
    items: int = 0
    """How many items all chunks hold together."""
    last_items: int = 0
    """How many items the last chunk holds."""
    last_chars: int = 0
    """How long the last chunk's items are, in characters of JSON."""
    sealed: bool = True
    """Whether the next append starts a new chunk (a new turn, or a full chunk)."""


def chunk_key(head_key: str, index: int) -> str:
    """The state key of chunk ``index`` of the history whose head lives under ``head_key``."""
    return f"{head_key}:items:{index}"


def item_chars(item: Item) -> int:
    """An item's size: the length of its JSON."""
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


class ChunkedItems:
    """The history items of one session, in chunks; the caller stores :attr:`index` in its head record.

    Read-only use (a shared handler) only reads. In an exclusive handler, every change is one ``ctx.set`` of
    the open chunk (journaled); the caller writes its head record right after, so head and chunks agree.

    Args:
        ctx: The handler's context.
        head_key: The state key of the session's head record; chunk keys derive from it.
        index: The stored :class:`ChunkIndex` (changed in place as items are appended).
        legacy: The items of a schema-version-1 record (all inline); the first change writes them as chunks.
        label: Prefix of the journal entries' names (``<label>: items 3``); ``None`` leaves them unnamed.
    """

    def __init__(
        self,
        ctx: ObjectContext,
        head_key: str,
        index: ChunkIndex,
        *,
        legacy: list[Item] | None = None,
        label: str | None = "history",
    ) -> None:
        self._ctx = ctx
        self._head_key = head_key
        self.index = index
        self._legacy = legacy
        self._label = label
        self._chunks: dict[int, list[Item]] = {}
        self._sizes: dict[int, tuple[Item, int]] = {}

    @property
    def count(self) -> int:
        """How many items there are."""
        return len(self._legacy) if self._legacy is not None else self.index.items

    # -- reading -----------------------------------------------------------------------------------------------

    async def all(self) -> list[Item]:
        """Every item, oldest first (reads every chunk not read yet)."""
        if self._legacy is not None:
            return list(self._legacy)
        items: list[Item] = []
        for number in range(self.index.chunks):
            items.extend(await self._chunk(number))
        return items

    async def tail(self, enough: Callable[[int, int], bool]) -> list[Item]:
        """The newest items, oldest first: whole chunks read from the end until ``enough(count, chars)`` is true
        or the history is read; ``count`` and ``chars`` are the number and size (:meth:`chars`) of the items
        read so far (a suffix of the history)."""
        if self._legacy is not None:
            return list(self._legacy)
        items: list[Item] = []
        chars = 0
        for number in range(self.index.chunks - 1, -1, -1):
            chunk = await self._chunk(number)
            items[:0] = chunk
            chars += sum(self.chars(item) for item in chunk)
            if enough(len(items), chars):
                break
        return items

    def chars(self, item: Item) -> int:
        """:func:`item_chars` of an item read from this history, measured once (a turn asks for each item's size
        while it picks the model's window, which a long conversation fills with a few hundred items)."""
        key = id(item)
        known = self._sizes.get(key)
        if known is None or known[0] is not item:
            known = self._sizes[key] = (item, item_chars(item))
        return known[1]

    async def _chunk(self, number: int) -> list[Item]:
        cached = self._chunks.get(number)
        if cached is None:
            name = self._name(f"read items {number}")
            stored = await self._ctx.get(chunk_key(self._head_key, number), serde=_ITEMS_SERDE, entry_name=name)
            cached = stored if stored is not None else []
            self._chunks[number] = cached
        return cached

    # -- changing (exclusive handlers only) --------------------------------------------------------------------

    def seal(self) -> None:
        """Start a new chunk with the next append (called when a turn begins)."""
        self.index.sealed = True

    async def append(self, items: list[Item]) -> None:
        """Add ``items`` at the end and write the open chunk (only this turn's items, or a fresh chunk)."""
        if not items:
            return
        self.migrate()
        index = self.index
        added = sum(item_chars(item) for item in items)
        fresh = index.chunks == 0 or index.sealed or index.last_items >= MAX_CHUNK_ITEMS
        if not fresh and index.last_chars + added > MAX_CHUNK_CHARS and index.last_items > 0:
            fresh = True
        if fresh:
            number, chunk, chars = index.chunks, [], 0
            index.chunks += 1
        else:
            number = index.chunks - 1
            chunk, chars = list(await self._chunk(number)), index.last_chars
        chunk.extend(items)
        self._write(number, chunk)
        index.items += len(items)
        index.last_items, index.last_chars, index.sealed = len(chunk), chars + added, False

    async def pop(self) -> Item | None:
        """Remove the newest item and write what changed; ``None`` when there is none."""
        self.migrate()
        index = self.index
        while index.chunks > 0:
            number = index.chunks - 1
            chunk = list(await self._chunk(number))
            item = chunk.pop() if chunk else None
            if chunk:
                self._write(number, chunk)
                index.last_items, index.last_chars = len(chunk), sum(item_chars(i) for i in chunk)
            else:  # The chunk is empty now: drop it; the next append starts a new one.
                self._drop(number)
                index.chunks -= 1
                previous = await self._chunk(index.chunks - 1) if index.chunks else []
                index.last_items, index.last_chars = len(previous), sum(item_chars(i) for i in previous)
                index.sealed = True
            if item is not None:
                index.items -= 1
                return item
        return None

    def clear(self) -> None:
        """Forget every item: the chunks' state keys are cleared."""
        self._legacy = None
        for number in range(self.index.chunks):
            self._drop(number)
        self.index.chunks = self.index.items = self.index.last_items = self.index.last_chars = 0
        self.index.sealed = True

    def _write(self, number: int, chunk: list[Item]) -> None:
        ctx = cast(restate.ObjectContext, self._ctx)  # Changes come from exclusive handlers only.
        name = self._name(f"items {number}")
        ctx.set(chunk_key(self._head_key, number), chunk, serde=_ITEMS_SERDE, entry_name=name)
        self._chunks[number] = chunk

    def _name(self, what: str) -> str | None:
        return None if self._label is None else unique_step_name(self._ctx, f"{self._label}: {what}")

    def _drop(self, number: int) -> None:
        cast(restate.ObjectContext, self._ctx).clear(chunk_key(self._head_key, number))
        self._chunks.pop(number, None)

    def migrate(self) -> None:
        """Write the items of a schema-version-1 record as chunks (once; before the first change or head write)."""
        legacy, self._legacy = self._legacy, None
        if not legacy:
            return
        for start in range(0, len(legacy), MAX_CHUNK_ITEMS):
            chunk = legacy[start : start + MAX_CHUNK_ITEMS]
            self._write(self.index.chunks, chunk)
            self.index.chunks += 1
            self.index.items += len(chunk)
            self.index.last_items, self.index.last_chars = len(chunk), sum(item_chars(i) for i in chunk)
        self.index.sealed = True
