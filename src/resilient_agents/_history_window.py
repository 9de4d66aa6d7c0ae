"""How much of a session's history the model sees: :class:`HistoryLimit` and the trimming rule.

Private module, shared by both session objects (Agents SDK path and native loop). The rule is pure, so it is
unit-tested without an engine; the session objects apply it when they load the history at the start of a turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 200
"""Default of :attr:`HistoryLimit.max_items`."""
DEFAULT_MAX_CHARS = 200_000
"""Default of :attr:`HistoryLimit.max_chars` (about 50,000 tokens at roughly four characters per token)."""


@dataclasses.dataclass(frozen=True)
class HistoryLimit:
    """How much of a session's stored history is sent to the model with each turn.

    The full history stays stored and readable (``history`` handler, ``sessions show``); only the model input
    is bounded, so turn 500 of a conversation sends about as much as turn 50. At the start of a turn the
    session keeps the newest items that fit both limits, then moves the cut forward to the first user message
    inside that window, so a tool call is never separated from its output (and the model sees whole turns).
    When even the newest turn does not fit, the window starts at its first item that is not a tool output.
    The agent's instructions are not part of the history: they are always sent. The items the current turn
    adds (its tool calls and their outputs) are always sent as well.

    Set both limits to ``None`` to send the whole history every turn (the cost then grows with its length).
    """

    max_items: int | None = DEFAULT_MAX_ITEMS
    """Most stored history items sent (messages, tool calls and tool outputs each count as one);
    ``None``: no limit by count."""
    max_chars: int | None = DEFAULT_MAX_CHARS
    """Most characters of stored history sent, measured on the items' JSON: a cheap stand-in for a token
    budget (about four characters per token for English text); ``None``: no limit by size."""

    def __post_init__(self) -> None:
        for name in ("max_items", "max_chars"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"HistoryLimit.{name} must be at least 1 or None (no limit), got {value!r}")

    @property
    def unlimited(self) -> bool:
        """Whether the whole history is sent."""
        return self.max_items is None and self.max_chars is None

    def exceeded(self, items: int, chars: int) -> bool:
        """Whether ``items`` items of ``chars`` characters in total are more than this limit allows."""
        return (self.max_items is not None and items > self.max_items) or (
            self.max_chars is not None and chars > self.max_chars
        )


def window_start(
    items: Sequence[T],
    limit: HistoryLimit,
    *,
    size: Callable[[T], int],
    calls: Callable[[T], Iterable[str]],
    answers: Callable[[T], str | None],
    is_turn_start: Callable[[T], bool],
) -> int:
    """The index of the first item of ``items`` that the model sees under ``limit``.

    Args:
        items: The history, oldest first.
        limit: The budget.
        size: An item's size in characters.
        calls: The ids of the tool calls an item makes (none for most items).
        answers: The id of the tool call an item is the output of, or ``None`` when it is no tool output.
        is_turn_start: Whether an item starts a turn (a user message): the preferred place to cut.

    Returns:
        ``0`` when everything fits. The window never holds a tool output without its call.
    """
    count = len(items)
    start, chars = count, 0
    while start > 0:
        candidate = size(items[start - 1])
        if limit.exceeded(count - start + 1, chars + candidate):
            break
        chars += candidate
        start -= 1
    if start == 0:
        return 0

    def whole(first: int) -> bool:
        seen: set[str] = set()
        for item in items[first:]:
            answered = answers(item)
            if answered is not None and answered not in seen:
                return False
            seen.update(calls(item))
        return True

    # Cut at the first turn inside the window: whole turns, and no tool output without its call.
    for index in range(start, count):
        if is_turn_start(items[index]) and whole(index):
            return index
    # Even the newest turn is too big: start at its first item in the window that orphans no tool output.
    for index in range(start, count):
        if answers(items[index]) is None and whole(index):
            return index
    # Nothing fits whole: go back to the newest start that keeps the pairs together, over the budget.
    for index in range(start - 1, 0, -1):
        if whole(index):
            return index
    return 0
