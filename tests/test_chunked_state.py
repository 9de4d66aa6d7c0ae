"""The chunked history store shared by both session objects, over an in-memory stand-in for object state."""

from __future__ import annotations

import json
from typing import Any, cast

import restate
from restate.serde import Serde

from resilient_agents._chunked_state import MAX_CHUNK_ITEMS, ChunkedItems, ChunkIndex, chunk_key, item_chars


class _State:
    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.writes: list[str] = []

    def key(self) -> str:
        return "k"

    async def get(self, name: str, serde: Serde[Any], entry_name: str | None = None) -> Any:
        raw = self.state.get(name)
        return None if raw is None else serde.deserialize(raw)

    def set(self, name: str, value: Any, serde: Serde[Any], entry_name: str | None = None) -> None:
        self.writes.append(name)
        self.state[name] = serde.serialize(value)

    def clear(self, name: str, entry_name: str | None = None) -> None:
        self.state.pop(name, None)


def _items(ctx: _State, index: ChunkIndex) -> list[dict[str, Any]]:
    return [item for n in range(index.chunks) for item in json.loads(ctx.state[chunk_key("h", n)])]


async def test_each_turn_writes_only_its_own_chunk_and_full_chunks_close() -> None:
    ctx, index = _State(), ChunkIndex()
    store = ChunkedItems(cast(restate.ObjectContext, ctx), "h", index)
    for turn in range(3):
        store.seal()
        await store.append([{"n": turn, "part": 1}])
        await store.append([{"n": turn, "part": 2}])
    assert ctx.writes == ["h:items:0", "h:items:0", "h:items:1", "h:items:1", "h:items:2", "h:items:2"]
    assert (index.chunks, index.items, index.last_items, index.sealed) == (3, 6, 2, False)

    # One very long turn: the open chunk closes at MAX_CHUNK_ITEMS, so no write rewrites more than that.
    for i in range(MAX_CHUNK_ITEMS + 5):
        await store.append([{"i": i}])
    assert (index.chunks, index.items, index.last_items) == (4, 6 + MAX_CHUNK_ITEMS + 5, 7)  # 2 + 62, then 7.
    assert max(len(json.loads(value)) for value in ctx.state.values()) == MAX_CHUNK_ITEMS

    fresh = ChunkedItems(cast(restate.ObjectContext, ctx), "h", index)  # A later turn reads what was written.
    assert await fresh.all() == _items(ctx, index)
    assert await fresh.tail(lambda count, _chars: count >= 3) == _items(ctx, index)[-7:]  # Whole chunks from the end.
    seen: list[tuple[int, int]] = []
    assert await fresh.tail(lambda count, chars: seen.append((count, chars)) or False) == _items(ctx, index)
    items = _items(ctx, index)
    assert seen[-1] == (len(items), sum(item_chars(item) for item in items))  # Sizes as item_chars measures them.
    assert [count for count, _ in seen] == [7, 7 + MAX_CHUNK_ITEMS, 9 + MAX_CHUNK_ITEMS, len(items)]  # Chunk by chunk.


async def test_pop_crosses_chunks_and_clear_removes_every_key() -> None:
    ctx, index = _State(), ChunkIndex()
    store = ChunkedItems(cast(restate.ObjectContext, ctx), "h", index)
    for turn in range(2):
        store.seal()
        await store.append([{"n": turn}])
    assert await store.pop() == {"n": 1}
    assert chunk_key("h", 1) not in ctx.state and (index.chunks, index.items, index.last_items) == (1, 1, 1)
    await store.append([{"n": 2}])  # After a pop that emptied a chunk, the next append starts a new one.
    assert _items(ctx, index) == [{"n": 0}, {"n": 2}] and index.chunks == 2
    assert await store.pop() == {"n": 2} and await store.pop() == {"n": 0} and await store.pop() is None
    await store.append([{"n": 3}])
    store.clear()
    assert ctx.state == {} and (index.chunks, index.items) == (0, 0)
    assert await store.all() == []
