"""``durable_tool``: a function tool whose calls are journaled, one tool-execution model for every call.

Private module. Inside a durable run every call of a durable tool, alone or among several the model asked
for at once, runs in the turn itself:

* **Default**: the body is one journaled step ``tool: <name>`` (``tool: <name> #2`` for the next call of
  the same tool in the invocation). The step journals the return value *and* the run context after the
  body; on replay the body does not run, the context change is applied from the journal. Durable actions
  inside the body are refused (Restate steps cannot nest): ``durable_context()`` says so.
* **``durable_actions=True``**: the body runs in the turn (not in a step) and may use durable actions
  through :func:`durable_context` (steps, sleeps, calls, awakeables, approvals), each journaled.

Several calls of one model response run concurrently, as the SDK starts them, on the live run context;
:mod:`resilient_agents._progress` makes their durable actions replay in the order they were journaled.
A cancellation of the invocation leaves the tool as :class:`InvocationCancelled`, past the SDK's tool
error handler. Outside a durable run it is a plain function tool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, overload

import restate
from agents import FunctionTool, function_tool
from agents.tool import ToolErrorFunction
from agents.tool_context import ToolContext

from resilient_agents import _tracing
from resilient_agents._durable import unique_step_name

from ._context import InvocationCancelled, RunState, current_run, durable_context, is_cancellation
from ._journal import JournaledToolResult
from ._settings import RetrySettings
from ._tool_spec import JSON_SERDE, RegisteredTool, register, run_body

ToolFunction = Callable[..., Any]
DURABLE_MARK = "_resilient_agents_durable"
"""Attribute holding the registry entry on every FunctionTool made by :func:`durable_tool` (survives the SDK's
tool copies)."""

_CONTEXT_PARAM = "_durable_tool_context"


@overload
def durable_tool(func: ToolFunction, /) -> FunctionTool: ...


@overload
def durable_tool(
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    retry: RetrySettings | None = None,
    failure_error_function: ToolErrorFunction | None = None,
    strict_mode: bool = True,
    durable_actions: bool = False,
    invocation: bool = False,
) -> Callable[[ToolFunction], FunctionTool]: ...


def durable_tool(
    func: ToolFunction | None = None,
    /,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    retry: RetrySettings | None = None,
    failure_error_function: ToolErrorFunction | None = None,
    strict_mode: bool = True,
    durable_actions: bool = False,
    invocation: bool = False,
) -> FunctionTool | Callable[[ToolFunction], FunctionTool]:
    """Turn a function into an Agents SDK tool whose call is journaled and replay-safe in parallel.

    Use it in place of :func:`agents.function_tool` for a tool with a side effect (sending an email,
    booking a seat, calling a slow or costly API). Inside a durable run the function's body is one
    journaled step: it runs until it succeeds once, its return value is journaled, and a replay returns it
    without calling the function again; the run context after the body is journaled too and re-applied on
    replay. Several durable tools requested in one model response run concurrently and replay
    deterministically.

    A tool that needs durable actions of its own (waiting for an approval, durable sleeps, several
    steps, calls to services) is declared with ``durable_actions=True``: its body then runs in the turn
    and uses :func:`durable_context` freely, each action journaled.

    The return value must be serializable by pydantic (``str``, numbers, ``dict``/``list``, dataclasses,
    pydantic models); annotate the return type so replays rebuild the same type. A run context a tool
    changes must be a pydantic model or a dataclass (it is journaled with the result).

    Args:
        func: The tool function (sync or async); its signature and docstring become the tool schema.
        name_override: Tool name (defaults to the function name); unique within an app.
        description_override: Tool description (defaults to the docstring).
        retry: How Restate retries the body's step when it raises (defaults to the run's tool settings).
            ``TypeError``, ``ValueError`` and similar failures, which the same call repeats, and
            :class:`restate.TerminalError` are not retried.
        failure_error_function: As in :func:`agents.function_tool`: turns a final failure into a message
            for the model. ``None`` tells the model the error message (the SDK's default hides it).
        strict_mode: As in :func:`agents.function_tool`.
        durable_actions: The body may use durable actions (it runs in the turn, not as one step).
        invocation: The former name of ``durable_actions`` (calls no longer become their own invocations).

    Returns:
        A :class:`agents.FunctionTool` (or a decorator producing one, when called with options only).
    """

    def decorate(fn: ToolFunction) -> FunctionTool:
        tool_name = name_override or fn.__name__
        entry = register(tool_name, fn, _return_type(fn), own_invocation=durable_actions or invocation, retry=retry)
        kwargs: dict[str, Any] = {"failure_error_function": failure_error_function or _tell_the_model}
        tool = function_tool(
            _journaled(entry, retry),
            name_override=tool_name,
            description_override=description_override,
            strict_mode=strict_mode,
            **kwargs,
        )
        setattr(tool, DURABLE_MARK, entry)
        return tool

    if func is not None:
        return decorate(func)
    return decorate


def _tell_the_model(context: Any, error: Exception) -> str:
    """The model reads what went wrong (the SDK's default hides it), so it can correct the call or explain."""
    message = error.message if isinstance(error, restate.TerminalError) else str(error)
    return f"An error occurred while running the tool: {message}"


def is_durable_tool(tool: object) -> bool:
    """Whether ``tool`` was made by :func:`durable_tool`."""
    return durable_entry(tool) is not None


def durable_entry(tool: object) -> RegisteredTool | None:
    """The registry entry of a tool made by :func:`durable_tool`, else ``None``."""
    entry = getattr(tool, DURABLE_MARK, None)
    return entry if isinstance(entry, RegisteredTool) else None


def _journaled(entry: RegisteredTool, retry: RetrySettings | None) -> ToolFunction:
    fn = entry.function

    @functools.wraps(fn)
    async def wrapper(tool_ctx: ToolContext[Any], *args: Any, **kwargs: Any) -> Any:
        call_args = [tool_ctx, *args] if entry.takes_context else list(args)

        async def call() -> Any:
            result = fn(*call_args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        run = current_run()
        if run is None:
            return await call()
        traced = _Traced(_tracing.parent(), tool_ctx.tool_call_id, _tracing.tool_batch())
        try:
            return await _durable_call(entry, retry, run, tool_ctx, call, traced)
        except restate.TerminalError as error:
            if is_cancellation(error):
                raise InvocationCancelled() from error  # Past the SDK's tool error handler, to the runner.
            raise

    _expose_tool_context(wrapper, fn, entry.takes_context)
    return wrapper


async def _durable_call(
    entry: RegisteredTool,
    retry: RetrySettings | None,
    run: RunState,
    tool_ctx: ToolContext[Any],
    call: Callable[[], Awaitable[Any]],
    traced: _Traced,
) -> Any:
    """Run one call of a durable tool inside a durable run."""
    if entry.own_invocation:
        # Its durable actions are journaled one by one, in the turn; it may wait across attempts (an approval).
        span = traced.resumable(entry.name, tool_ctx)
        if span is None:
            return await call()
        try:
            with span.current():
                result = await call()
        except Exception as error:
            span.finish(None, error)
            raise
        span.finish(None)
        return result
    return await _call_as_step(entry, retry or run.settings.tool_retry, tool_ctx, call, traced)


@dataclasses.dataclass(frozen=True)
class _Traced:
    """What a tool's span needs from the task that started the call."""

    parent: _tracing.Parent | None
    call_id: str | None
    batch_size: int | None

    def resumable(self, name: str, tool_ctx: ToolContext[Any]) -> _tracing.OpenSpan | None:
        """The span of a tool with durable actions: started in every attempt, ended by the one that finishes it."""
        span = _tracing.start_resumable_tool(
            None, self.parent, step=f"tool: {name}", name=name, call_id=self.call_id, batch_size=self.batch_size
        )
        if span is not None:
            span.handle.set_content("input.value", tool_ctx.tool_arguments)
        return span

    @contextlib.contextmanager
    def span(self, name: str, step: str, tool_ctx: ToolContext[Any]) -> Iterator[_tracing.SpanHandle]:
        with _tracing.tool_call(
            self.parent, step=step, name=name, call_id=self.call_id, batch_size=self.batch_size
        ) as span:
            span.set_content("input.value", tool_ctx.tool_arguments)
            yield span


async def _call_as_step(
    entry: RegisteredTool,
    settings: RetrySettings,
    tool_ctx: ToolContext[Any],
    call: Callable[[], Awaitable[Any]],
    traced: _Traced,
) -> Any:
    """One journaled step ``tool: <name>``; it journals the output *and* the run context after the body.

    The body changes the live run context as it runs; on replay it does not run, so the journaled context
    is applied instead, and the turn continues from the same context either way.
    """

    ctx = durable_context()
    name = unique_step_name(ctx, f"tool: {entry.name}")

    async def step() -> Any:
        with traced.span(entry.name, name, tool_ctx) as span:  # Inside the step: a replay emits no span.
            output = await run_body(entry, call)
            span.set_content("output.value", output)
        after = entry.context_adapter().dump_python(tool_ctx.context, mode="json") if entry.takes_context else None
        return JournaledToolResult(output=output, context=after).model_dump(mode="json")

    result = JournaledToolResult.from_journal(await ctx.run_typed(name, step, settings.run_options(JSON_SERDE)))
    if entry.takes_context and result.context is not None:
        # Live, the body already changed the context (nothing differs); on replay this re-applies its change.
        _merge_context(entry, tool_ctx.context, result.context, tool_ctx.context)
    return entry.output.validate_python(result.output)


def _merge_context(entry: RegisteredTool, before: Any, after_json: Any, live: Any) -> None:
    """Copy the fields that differ between ``before`` and the journaled ``after_json`` onto the live context."""
    adapter = entry.context_adapter()
    after = adapter.validate_python(after_json)
    before_json = adapter.dump_python(before, mode="json")
    if not isinstance(before_json, dict) or not isinstance(after_json, dict):
        return
    for field, value in after_json.items():
        if before_json.get(field) != value:
            setattr(live, field, getattr(after, field))


def _expose_tool_context(wrapper: ToolFunction, fn: ToolFunction, takes_context: bool) -> None:
    """Give ``wrapper`` the signature the SDK should see: a ``ToolContext`` first, then ``fn``'s parameters.

    The SDK passes the tool context (call id, arguments) only to functions that declare it; ours always
    needs it, so a function that does not declare one gets a hidden first parameter the schema leaves out.
    """
    signature = inspect.signature(fn)
    if takes_context:
        wrapper.__signature__ = signature  # type: ignore[attr-defined]  # Functions accept __signature__.
        return
    hidden = inspect.Parameter(_CONTEXT_PARAM, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ToolContext[Any])
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]  # Functions accept __signature__.
        parameters=[hidden, *signature.parameters.values()]
    )
    wrapper.__annotations__ = {_CONTEXT_PARAM: ToolContext[Any], **getattr(fn, "__annotations__", {})}


def _return_type(fn: ToolFunction) -> Any:
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        return Any
    return hints.get("return", Any)
