"""The viewer's in-memory trace store. Private module."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ._otlp import TraceSpan


@dataclass(frozen=True)
class TraceSummary:
    """One line of the trace list."""

    trace_id: str
    root_name: str
    """The name of the root span, or of the earliest span whose parent has not arrived yet."""
    has_root: bool
    """Whether the root span (the one without a parent) has arrived."""
    services: tuple[str, ...]
    span_count: int
    start_unix_nano: int
    end_unix_nano: int
    errors: int
    """Spans with status ``error``."""

    @property
    def duration_ns(self) -> int:
        """From the first span's start to the last span's end."""
        return max(0, self.end_unix_nano - self.start_unix_nano)


class TraceStore:
    """Spans grouped by trace, the newest traces kept (``max_traces``); thread-safe.

    A span sent twice (same trace and span id) is kept once: the later copy wins.
    """

    def __init__(self, max_traces: int = 1000) -> None:
        self.max_traces = max_traces
        self._traces: OrderedDict[str, dict[str, TraceSpan]] = OrderedDict()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received = 0

    def add(self, spans: Iterable[TraceSpan]) -> int:
        """Store spans; returns how many were given."""
        count = 0
        with self._lock:
            for span in spans:
                count += 1
                trace = self._traces.get(span.trace_id)
                if trace is None:
                    trace = self._traces[span.trace_id] = {}
                    while len(self._traces) > self.max_traces:
                        self._traces.popitem(last=False)
                trace[span.span_id] = span
            self._received += count
            self._changed.notify_all()
        return count

    @property
    def received(self) -> int:
        """Spans received so far (duplicates included)."""
        with self._lock:
            return self._received

    def spans(self, trace_id: str) -> list[TraceSpan]:
        """The spans of one trace, by start time (empty if unknown)."""
        with self._lock:
            spans = list(self._traces.get(trace_id.lower(), {}).values())
        return sorted(spans, key=lambda span: (span.start_unix_nano, span.end_unix_nano))

    def all_spans(self) -> list[TraceSpan]:
        """Every stored span, by start time."""
        with self._lock:
            spans = [span for trace in self._traces.values() for span in trace.values()]
        return sorted(spans, key=lambda span: span.start_unix_nano)

    def summaries(self) -> list[TraceSummary]:
        """A summary of each trace, the most recently started first."""
        with self._lock:
            traces = {trace_id: list(spans.values()) for trace_id, spans in self._traces.items()}
        result = [summarize(trace_id, spans) for trace_id, spans in traces.items() if spans]
        return sorted(result, key=lambda summary: summary.start_unix_nano, reverse=True)

    def wait_for(self, condition: Callable[[TraceStore], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` holds (checked on every change) or ``timeout`` seconds pass."""
        with self._changed:
            return self._changed.wait_for(lambda: _unlocked(condition, self), timeout)

    def clear(self) -> None:
        """Forget every trace."""
        with self._lock:
            self._traces.clear()


def _unlocked(condition: Callable[[TraceStore], bool], store: TraceStore) -> bool:
    # wait_for calls this with the lock held; the store's readers take it again, so release it meanwhile.
    store._lock.release()
    try:
        return condition(store)
    finally:
        store._lock.acquire()


def summarize(trace_id: str, spans: list[TraceSpan]) -> TraceSummary:
    """The summary of one trace's spans."""
    ids = {span.span_id for span in spans}
    roots = sorted(
        (span for span in spans if not span.parent_span_id or span.parent_span_id not in ids),
        key=lambda span: (bool(span.parent_span_id), span.start_unix_nano),
    )
    root = roots[0] if roots else None
    return TraceSummary(
        trace_id=trace_id,
        root_name=root.name if root is not None else "",
        has_root=root is not None and not root.parent_span_id,
        services=tuple(sorted({span.service for span in spans if span.service})),
        span_count=len(spans),
        start_unix_nano=min(span.start_unix_nano for span in spans),
        end_unix_nano=max(span.end_unix_nano for span in spans),
        errors=sum(span.status == "error" for span in spans),
    )
