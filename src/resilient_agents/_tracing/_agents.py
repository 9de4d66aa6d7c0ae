"""The spans of what an agent does: turns, model calls, tools, handoffs, approval waits. Private module."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from ._setup import FORCED_SPAN_ID, Parent, get_tracer
from ._spans import (
    NO_SPAN,
    OpenSpan,
    SpanHandle,
    clean,
    execution_span,
    extend_current_start,
    logical_span,
    with_content,
)
from ._where import derived_span_id, invocation_id, is_replaying, next_attempt, parent, resumed

_IN_TURN: contextvars.ContextVar[bool] = contextvars.ContextVar("resilient_agents_in_turn", default=False)


@contextlib.contextmanager
def turn(ctx: Any, *, agent: str, session_key: str | None = None, path: str) -> Iterator[SpanHandle]:
    """The span of one agent turn (``invoke_agent <agent>``): parent of its model, tool and handoff spans.

    Inside a turn span (a nested run, a handler that opened one) it is a no-op.

    Args:
        ctx: The handler's Restate context.
        agent: The agent that starts the turn.
        session_key: The session (Virtual Object key); by default the key of ``ctx`` when it has one.
        path: ``openai-agents`` or ``loop``.
    """
    if get_tracer() is None or _IN_TURN.get():
        yield NO_SPAN
        return
    if session_key is None:
        session_key = _key_of(ctx)
    token = _IN_TURN.set(True)
    try:
        with _turn_span(ctx, agent, session_key, path) as span:
            yield span
            span.set("resilient_agents.outcome", "completed")
    finally:
        _IN_TURN.reset(token)


def _key_of(ctx: Any) -> str | None:
    try:
        key = ctx.key()
    except Exception:
        return None
    return str(key) if key else None


def _turn_span(
    ctx: Any, agent: str, session_key: str | None, path: str
) -> contextlib.AbstractContextManager[SpanHandle]:
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.conversation.id": session_key,
        "session.id": session_key,
        "openinference.span.kind": "AGENT",
        "resilient_agents.path": path,
        "resilient_agents.invocation_id": invocation_id(ctx),
    }
    return logical_span(f"invoke_agent {agent}", ctx, _turn_key(ctx), attributes)


def _turn_key(ctx: Any) -> str:
    """``turn``, then ``turn #2``...: runs gathered in one handler open their turn spans in the same order in
    every attempt, so each keeps its span id."""
    data = getattr(ctx, "extension_data", None)
    if not isinstance(data, dict):
        return "turn"
    count = int(data.get("resilient_agents.turns", 0)) + 1
    data["resilient_agents.turns"] = count
    return "turn" if count == 1 else f"turn #{count}"


def model_call(
    parent_ctx: Parent | None, *, step: str, agent: str, model: str | None, host: str, provider: str = "openai"
) -> contextlib.AbstractContextManager[SpanHandle]:
    """The span of one execution of a model-call step (``chat <model>``); call it inside the step's action."""
    if get_tracer() is None:
        return contextlib.nullcontext(NO_SPAN)
    address, _, port = host.partition(":")
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,
        "gen_ai.request.model": model,
        "gen_ai.agent.name": agent,
        "server.address": address or None,
        "server.port": int(port) if port.isdigit() else None,
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.provider": provider,
        "resilient_agents.step": step,
        "resilient_agents.attempt": next_attempt(step),
    }
    return execution_span(f"chat {model or agent}", parent_ctx, attributes)


def tool_call(
    parent_ctx: Parent | None, *, step: str, name: str, call_id: str | None, batch_size: int | None
) -> contextlib.AbstractContextManager[SpanHandle]:
    """The span of one execution of a tool (``execute_tool <name>``); call it where the tool's body runs."""
    if get_tracer() is None:
        return contextlib.nullcontext(NO_SPAN)
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": "function",
        "openinference.span.kind": "TOOL",
        "tool.name": name,
        "resilient_agents.step": step,
        "resilient_agents.attempt": next_attempt(step),
        "resilient_agents.tool.batched": None if batch_size is None else batch_size > 1,
        "resilient_agents.tool.batch_size": batch_size,
    }
    return execution_span(f"execute_tool {name}", parent_ctx, attributes)


_TOOL_BATCH: contextvars.ContextVar[int | None] = contextvars.ContextVar("resilient_agents_tool_batch", default=None)


def note_tool_batch(size: int) -> None:
    """Remember how many tool calls the last model response asked for (tool tasks started next inherit it)."""
    if get_tracer() is not None:
        _TOOL_BATCH.set(size)


def tool_batch() -> int | None:
    """The number of tool calls of the model response whose tools run now, when known."""
    return _TOOL_BATCH.get()


def handoff(ctx: Any, source: str, target: str) -> None:
    """A span for a handoff from ``source`` to ``target`` (not emitted while the engine replays)."""
    tracer = get_tracer()
    if tracer is None or is_replaying(ctx):
        return
    attributes = {
        "gen_ai.operation.name": "handoff",
        "gen_ai.agent.name": source,
        "resilient_agents.handoff.from": source,
        "resilient_agents.handoff.to": target,
        "openinference.span.kind": "CHAIN",
    }
    tracer.start_span(f"handoff {source} -> {target}", context=parent(ctx), attributes=attributes).end()


def start_resumable_tool(
    ctx: Any, parent_ctx: Parent | None, *, step: str, name: str, call_id: str | None, batch_size: int | None
) -> OpenSpan | None:
    """Start the span of a tool call that may wait across attempts (a call to a handler or workflow, a tool
    with durable actions waiting for an approval).

    Every attempt that reaches the call starts it again under the same span id (derived from the invocation
    and the call id); only the attempt that sees the call complete live ends it (:meth:`OpenSpan.finish`).
    """
    tracer = get_tracer()
    if tracer is None:
        return None
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": "function",
        "openinference.span.kind": "TOOL",
        "tool.name": name,
        "resilient_agents.step": step,
        "resilient_agents.tool.batched": None if batch_size is None else batch_size > 1,
        "resilient_agents.tool.batch_size": batch_size,
    }
    attributes = clean(resumed(ctx, attributes, None))
    token = FORCED_SPAN_ID.set(derived_span_id(ctx, f"tool/{call_id or step}"))
    try:
        return OpenSpan(tracer.start_span(f"execute_tool {name}", context=parent_ctx, attributes=attributes))
    finally:
        FORCED_SPAN_ID.reset(token)


_plain_tools: dict[str, tuple[contextlib.AbstractContextManager[SpanHandle], SpanHandle]] = {}


def start_plain_tool(call_id: str | None, name: str) -> None:
    """Open the span of a tool that is not journaled (it runs again on replay: only live runs get a span)."""
    if get_tracer() is None or call_id is None or is_replaying():
        return
    span = tool_call(parent(), step=f"plain: {name}", name=name, call_id=call_id, batch_size=tool_batch())
    handle = span.__enter__()
    if len(_plain_tools) > 10_000:
        _plain_tools.clear()
    _plain_tools[call_id] = (span, handle)


def end_plain_tool(call_id: str | None, result: object) -> None:
    """Close the span opened by :func:`start_plain_tool` (the result only with the content setting)."""
    entry = _plain_tools.pop(call_id, None) if call_id is not None else None
    if entry is None:
        return
    span, handle = entry
    handle.set_content("output.value", str(result))
    span.__exit__(None, None, None)


def host_of(client: Any) -> str:
    """``host:port`` of the model server a client talks to (``api.openai.com``); empty when it cannot be told."""
    for candidate in (client, getattr(client, "wrapped", None)):
        inner = getattr(candidate, "_client", None)
        base_url = getattr(inner, "base_url", None)
        host = getattr(base_url, "host", None)
        if host:
            port = getattr(base_url, "port", None)
            return f"{host}:{port}" if port else str(host)
        url = getattr(candidate, "_url", None)
        if isinstance(url, str) and "//" in url:
            return url.split("//", 1)[1].split("/", 1)[0]
    return ""


def provider_of(client: Any) -> str:
    """The GenAI provider name of a loop model client (``openai`` or ``anthropic``)."""
    inner = getattr(client, "wrapped", client)
    return "anthropic" if "anthropic" in type(inner).__name__.lower() else "openai"


def approval_wait(
    ctx: Any, *, approval_id: str, tenant: str, created_at_ms: int, title: str
) -> contextlib.AbstractContextManager[SpanHandle]:
    """The span of waiting for a person's decision, from the journaled request time to the decision.

    It covers the whole wait, across suspensions and service restarts: only the attempt that gets the
    decision ends it, with the start time the first attempt journaled.
    """
    if get_tracer() is None:
        return contextlib.nullcontext(NO_SPAN)
    start_ns = created_at_ms * 1_000_000
    extend_current_start(start_ns)
    attributes = {
        "gen_ai.operation.name": "approval_wait",
        "openinference.span.kind": "CHAIN",
        "resilient_agents.approval.id": approval_id,
        "resilient_agents.approval.tenant": tenant,
    }
    span = logical_span(f"approval_wait {approval_id}", ctx, f"approval/{approval_id}", attributes, start_ns=start_ns)
    return with_content(span, "resilient_agents.approval.title", title)
