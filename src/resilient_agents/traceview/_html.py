"""The viewer's HTML pages: the trace list and one trace as an indented span tree with a timeline. Private module.

Pages are rendered on the server and need no JavaScript: span details open with ``<details>``.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from collections import defaultdict
from collections.abc import Iterator

from ._otlp import AttributeValue, TraceSpan
from ._store import TraceSummary

# Attributes shown next to a span's name, in this order (GenAI semantic conventions, OpenInference, Restate);
# a value the span's name already says is left out.
_BADGES = (
    ("gen_ai.request.model", "model "),
    ("gen_ai.tool.name", "tool "),
    ("gen_ai.agent.name", "agent "),
    ("restate.invocation.target", ""),
    ("resilient_agents.replayed", "replayed "),
)
_TOKENS = (
    ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"),
    ("llm.token_count.prompt", "llm.token_count.completion"),
)


_LIVE_NS = 30 * 1_000_000_000

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
header a { color: #9cc3ff; text-decoration: none; } header h1 { font-size: 17px; margin: 0; }
main { padding: 16px 20px; } .muted { color: #6b7280; } code { font-size: 12.5px; }
table.list { border-collapse: collapse; width: 100%; background: #fff; }
table.list th, table.list td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e5e7eb; }
table.list tr:hover td { background: #eef4ff; } table.list a { color: #1d4ed8; text-decoration: none; }
.tree { background: #fff; border: 1px solid #e5e7eb; }
.tree summary { list-style: none; cursor: pointer; display: grid; grid-template-columns: 52% 1fr 90px;
  align-items: center; padding: 3px 10px; border-bottom: 1px solid #f0f1f3; }
.tree summary::-webkit-details-marker { display: none; } .tree summary:hover { background: #eef4ff; }
.name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.svc { font-size: 11px; padding: 1px 6px; border-radius: 8px; color: #fff; margin-right: 6px; }
.badge { font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #eef0f4; margin-left: 4px; }
.err { background: #fde2e2; color: #991b1b; } .tokens { background: #e0ecff; color: #1e3a8a; }
.track { position: relative; height: 12px; background: #f3f4f6; border-radius: 3px; }
.bar { position: absolute; top: 0; height: 12px; border-radius: 3px; min-width: 2px; }
.dur { text-align: right; font-variant-numeric: tabular-nums; }
.attrs { margin: 4px 10px 10px; border-collapse: collapse; font-size: 12.5px; }
.attrs td { padding: 2px 8px; border-bottom: 1px solid #f0f1f3; vertical-align: top; }
.attrs td:first-child { color: #4b5563; white-space: nowrap; }
.orphan { font-size: 11px; color: #92400e; margin-left: 6px; }
"""


def _page(title: str, body: str, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        '<header><h1>resilient-agents traces</h1><a href="/">all traces</a>'
        '<a href="/api/traces">JSON</a></header>'
        f"<main>{body}</main></body></html>"
    )


def duration_text(nanos: int) -> str:
    """A duration for people: ``850 µs``, ``12.3 ms``, ``4.56 s``."""
    if nanos < 1_000_000:
        return f"{nanos / 1000:.0f} µs"
    if nanos < 1_000_000_000:
        return f"{nanos / 1_000_000:.1f} ms"
    return f"{nanos / 1_000_000_000:.2f} s"


def _clock(unix_nano: int) -> str:
    seconds = unix_nano / 1e9
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}"


def _color(service: str) -> str:
    hue = int(hashlib.sha256(service.encode()).hexdigest()[:4], 16) % 360
    return f"hsl({hue}, 55%, 45%)"


def list_page(summaries: list[TraceSummary], otlp_url: str) -> str:
    """The list of traces, newest first; reloads itself every 5 s."""
    if not summaries:
        body = (
            "<p>No traces yet.</p>"
            f"<p class='muted'>Send OTLP/HTTP (protobuf or JSON) to <code>{html.escape(otlp_url)}</code>. "
            "The Restate engine sends its spans in batches, about every 10 s; this page reloads every 5 s.</p>"
        )
        return _page("traces", body, refresh=5)
    rows = []
    for summary in summaries:
        link = f"/trace/{summary.trace_id}"
        services = " ".join(
            f'<span class="svc" style="background:{_color(name)}">{html.escape(name)}</span>'
            for name in summary.services
        )
        name = html.escape(summary.root_name)
        if not summary.has_root:
            name += ' <span class="orphan">(root not received yet)</span>'
        errors = f'<span class="badge err">{summary.errors} error(s)</span>' if summary.errors else ""
        rows.append(
            f"<tr><td>{_clock(summary.start_unix_nano)}</td>"
            f'<td><a href="{link}">{name}</a> {errors}</td><td>{services}</td>'
            f"<td>{summary.span_count}</td><td class='dur'>{duration_text(summary.duration_ns)}</td>"
            f'<td><a href="{link}"><code>{summary.trace_id}</code></a></td></tr>'
        )
    body = (
        f"<p class='muted'>{len(summaries)} trace(s), newest first; reloads every 5 s. "
        f"OTLP endpoint: <code>{html.escape(otlp_url)}</code></p>"
        "<table class='list'><tr><th>started</th><th>root span</th><th>services</th><th>spans</th>"
        "<th>duration</th><th>trace id</th></tr>" + "".join(rows) + "</table>"
    )
    return _page("traces", body, refresh=5)


def _tree(spans: list[TraceSpan]) -> Iterator[tuple[int, TraceSpan, bool]]:
    """(depth, span, orphan) depth-first, children by start time; an orphan's parent has not arrived."""
    ids = {span.span_id for span in spans}
    children: dict[str, list[TraceSpan]] = defaultdict(list)
    roots: list[TraceSpan] = []
    for span in sorted(spans, key=lambda s: (s.start_unix_nano, s.end_unix_nano)):
        if span.parent_span_id and span.parent_span_id in ids and span.parent_span_id != span.span_id:
            children[span.parent_span_id].append(span)
        else:
            roots.append(span)
    seen: set[str] = set()

    def walk(span: TraceSpan, depth: int) -> Iterator[tuple[int, TraceSpan, bool]]:
        if span.span_id in seen:  # A cycle in bad data must not loop forever.
            return
        seen.add(span.span_id)
        yield depth, span, depth == 0 and bool(span.parent_span_id)
        for child in children.get(span.span_id, []):
            yield from walk(child, depth + 1)

    for root in roots:
        yield from walk(root, 0)


def _value_text(value: AttributeValue) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return json.dumps(value, default=str)


def _badges(span: TraceSpan) -> str:
    parts = []
    for input_key, output_key in _TOKENS:
        tokens_in, tokens_out = span.attributes.get(input_key), span.attributes.get(output_key)
        if tokens_in is not None or tokens_out is not None:
            text = f"{_value_text(tokens_in) if tokens_in is not None else '?'} in / "
            text += f"{_value_text(tokens_out) if tokens_out is not None else '?'} out tokens"
            parts.append(f'<span class="badge tokens" title="{input_key}, {output_key}">{html.escape(text)}</span>')
            break
    for key, label in _BADGES:
        value = span.attributes.get(key)
        if value is None or value == "" or (isinstance(value, str) and value in span.name):
            continue
        text = html.escape(label + _value_text(value))
        parts.append(f'<span class="badge" title="{html.escape(key)}">{text}</span>')
    if span.status == "error":
        parts.append(f'<span class="badge err">error {html.escape(span.status_message)}</span>')
    return "".join(parts)


def trace_page(trace_id: str, spans: list[TraceSpan]) -> str:
    """One trace: each span as a row of the tree with its timeline bar; a row opens to show its attributes."""
    if not spans:
        body = f"<p>No spans of trace <code>{html.escape(trace_id)}</code> (yet). <a href='/'>All traces</a></p>"
        return _page("trace not found", body)
    start = min(span.start_unix_nano for span in spans)
    end = max(span.end_unix_nano for span in spans)
    total = max(1, end - start)
    rows = []
    for depth, span, orphan in _tree(spans):
        color = _color(span.service or "?")
        left = 100 * (span.start_unix_nano - start) / total
        width = max(0.2, 100 * span.duration_ns / total)
        attributes = "".join(
            f"<tr><td>{html.escape(key)}</td><td>{html.escape(_value_text(value))}</td></tr>"
            for key, value in sorted(span.attributes.items())
        )
        details = (
            f"<tr><td>span</td><td><code>{span.span_id}</code> ({span.kind}, scope {html.escape(span.scope)})</td></tr>"
            f"<tr><td>parent</td><td><code>{span.parent_span_id or '-'}</code></td></tr>"
            f"<tr><td>start</td><td>{_clock(span.start_unix_nano)}</td></tr>" + attributes
        )
        for event in span.events:
            text = f"{event.name} {json.dumps(event.attributes, default=str)}"
            details += f"<tr><td>event</td><td>{html.escape(text)}</td></tr>"
        missing = '<span class="orphan">(parent not received yet)</span>' if orphan else ""
        rows.append(
            f'<details data-span="{span.span_id}"><summary>'
            f'<div class="name" style="padding-left:{depth * 18}px">'
            f'<span class="svc" style="background:{color}">{html.escape(span.service or "?")}</span>'
            f"<b>{html.escape(span.name)}</b>{missing}{_badges(span)}</div>"
            f'<div class="track"><div class="bar" style="left:{left:.2f}%;width:{width:.2f}%;background:{color}">'
            f'</div></div><div class="dur">{duration_text(span.duration_ns)}</div></summary>'
            f'<table class="attrs">{details}</table></details>'
        )
    services = sorted({span.service for span in spans if span.service})
    # Spans keep arriving for a while (the engine exports in batches about every 10 s): reload until it is quiet.
    live = time.time_ns() - end < _LIVE_NS
    note = " Recent: this page reloads every 5 s for spans still on their way." if live else ""
    body = (
        f"<h2 style='font-size:16px;margin:0 0 4px'>trace <code>{trace_id}</code></h2>"
        f"<p class='muted'>{len(spans)} span(s) from {html.escape(', '.join(services))}; "
        f"started {_clock(start)}, {duration_text(end - start)} in all. Click a span for its attributes.{note}</p>"
        f"<div class='tree'>{''.join(rows)}</div>"
    )
    return _page(f"trace {trace_id}", body, refresh=5 if live else None)
