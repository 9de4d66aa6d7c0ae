"""``durable_tool``: a function tool whose call is journaled, and whose parallel calls replay exactly.

Private module. How a call runs inside a durable run:

* **Default, alone in its model response**: the body is one journaled step ``tool: <name>`` of the
  turn; the tool gets the live run context. Durable actions inside the body are not allowed (Restate
  steps cannot nest); ``durable_context()`` there raises an error that says so.
* **Default, with other durable tool calls in the same response**, and **always for
  ``invocation=True``**: each call is its own invocation ``DurableTools/<name>@<module>.<function>/call``
  with its own journal (for a default tool, the body is again one step ``tool: <name>`` in it). Calls
  are issued in the model's order, so the turn's journal is the same on every replay, and then run
  concurrently. The tool gets a snapshot of the run context taken when the model's response arrived;
  the fields it changes are copied back onto the live context in the model's order once it finishes
  (so when two parallel tools set the same field, the later call in the model's list wins).

Outside a durable run it is a plain function tool.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, overload

import restate
from agents import FunctionTool, function_tool
from agents.tool import ToolErrorFunction
from agents.tool_context import ToolContext

from resilient_agents._durable import TypeAdapterSerde
from resilient_agents.errors import TerminalAgentError

from ._batch import ToolBatch
from ._context import (
    InvocationCancelled,
    RunState,
    current_run,
    durable_context,
    is_cancellation,
    unique_step_name,
)
from ._settings import RetrySettings
from ._tool_service import (
    JSON_SERDE,
    TOOLS_HANDLER,
    TOOLS_OBJECT,
    RegisteredTool,
    ToolCallRequest,
    ToolCallResult,
    register,
    run_body,
)

ToolFunction = Callable[..., Any]
DURABLE_MARK = "_resilient_agents_durable"
"""Attribute holding the registry entry on every FunctionTool made by :func:`durable_tool` (survives the SDK's
tool copies)."""

_REQUEST_SERDE: TypeAdapterSerde[ToolCallRequest] = TypeAdapterSerde(ToolCallRequest)
_RESULT_SERDE: TypeAdapterSerde[ToolCallResult] = TypeAdapterSerde(ToolCallResult)
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
    invocation: bool = False,
) -> FunctionTool | Callable[[ToolFunction], FunctionTool]:
    """Turn a function into an Agents SDK tool whose call is journaled and replay-safe in parallel.

    Use it in place of :func:`agents.function_tool` for a tool with a side effect (sending an email,
    booking a seat, calling a slow or costly API). Inside a durable run the function's body is one
    journaled step: it runs until it succeeds once, its return value is journaled, and a replay returns it
    without calling the function again. Several durable tools requested in one model response run
    concurrently and replay deterministically (see the module docs for how, and what happens to the run
    context).

    A tool that needs durable actions of its own (waiting for an approval, durable sleeps, several
    steps, calls to services) is declared with ``invocation=True``: each call is then its own Restate
    invocation with its own journal, and its body uses :func:`durable_context` freely.

    The return value must be serializable by pydantic (``str``, numbers, ``dict``/``list``, dataclasses,
    pydantic models); annotate the return type so replays rebuild the same type. A run context that a
    parallel tool reads or changes must be a pydantic model or a dataclass.

    Args:
        func: The tool function (sync or async); its signature and docstring become the tool schema.
        name_override: Tool name (defaults to the function name); unique within an app.
        description_override: Tool description (defaults to the docstring).
        retry: How Restate retries the function when it raises, for a call that runs as a step of the
            turn (defaults to the run's tool settings). Raise :class:`restate.TerminalError` to fail
            without retrying.
        failure_error_function: As in :func:`agents.function_tool`: turns a final failure into a message
            for the model. ``None`` tells the model the error message (the SDK's default hides it).
        strict_mode: As in :func:`agents.function_tool`.
        invocation: Run every call as its own invocation (``DurableTools/<key>/call``) whose body may
            use durable actions, instead of as one journaled step of the turn.

    Returns:
        A :class:`agents.FunctionTool` (or a decorator producing one, when called with options only).
    """

    def decorate(fn: ToolFunction) -> FunctionTool:
        tool_name = name_override or fn.__name__
        entry = register(tool_name, fn, _return_type(fn), own_invocation=invocation, retry=retry)
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
        try:
            return await _durable_call(entry, retry, run, tool_ctx, call)
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
) -> Any:
    """Run one call of a durable tool inside a durable run: as a step of the turn or as its own invocation."""
    batch = run.batch
    in_batch = batch is not None and tool_ctx.tool_call_id in batch
    if entry.own_invocation or (batch is not None and in_batch and batch.parallel):
        if batch is None or not in_batch:
            batch = ToolBatch.create([tool_ctx.tool_call_id], run.context, snapshot=entry.takes_context)
        return await _call_as_invocation(entry, batch, tool_ctx)
    return await _call_as_step(entry, retry or run.settings.tool_retry, tool_ctx, call)


async def _call_as_step(
    entry: RegisteredTool, settings: RetrySettings, tool_ctx: ToolContext[Any], call: Callable[[], Awaitable[Any]]
) -> Any:
    """One journaled step ``tool: <name>`` of the turn; it journals the output *and* the run context after it.

    The tool changes the live run context as it runs; on replay the step is not run again, so the journaled
    context is applied instead, and the turn continues from the same context either way.
    """

    async def step() -> Any:
        output = await run_body(entry, call)
        after = entry.context_adapter().dump_python(tool_ctx.context, mode="json") if entry.takes_context else None
        return ToolCallResult(output=output, context=after).model_dump(mode="json")

    ctx = durable_context()
    name = unique_step_name(ctx, f"tool: {entry.name}")
    journaled = await ctx.run_typed(name, step, settings.run_options(JSON_SERDE))
    result = _as_result(journaled)
    if entry.takes_context and result.context is not None:
        # Live, the tool already changed the context (nothing differs); on replay this re-applies its change.
        _merge_context(entry, tool_ctx.context, result.context, tool_ctx.context)
    return entry.output.validate_python(result.output)


def _as_result(journaled: Any) -> ToolCallResult:
    try:
        return ToolCallResult.model_validate(journaled)
    except ValueError:  # Journaled before results carried the context: the value is the bare output.
        return ToolCallResult(output=journaled)


async def _call_as_invocation(entry: RegisteredTool, batch: ToolBatch, tool_ctx: ToolContext[Any]) -> Any:
    call_id = tool_ctx.tool_call_id
    try:
        # Inside the try: whatever fails here, the turnstile must let the calls after this one go.
        snapshot = _context_json(entry, batch.context_snapshot)
        request = ToolCallRequest(call_id=call_id, arguments=tool_ctx.tool_arguments, context=snapshot)
        await batch.issue.wait(call_id)
        future = durable_context().generic_call(
            TOOLS_OBJECT, TOOLS_HANDLER, _REQUEST_SERDE.serialize(request), key=entry.key
        )
        batch.futures.append(future)
    finally:
        await batch.issue.passed(call_id)
    try:
        await batch.all_completed()
        result = _RESULT_SERDE.deserialize(await future)
        assert result is not None
        await batch.apply.wait(call_id)
        if entry.takes_context:
            _merge_context(entry, batch.context_snapshot, result.context, tool_ctx.context)
    finally:
        await batch.apply.passed(call_id)
    return entry.output.validate_python(result.output)


def _context_json(entry: RegisteredTool, snapshot: Any) -> Any:
    if not entry.takes_context:
        return None
    try:
        return entry.context_adapter().dump_python(snapshot, mode="json")
    except Exception as error:
        raise TerminalAgentError(
            f"tool {entry.name!r} takes the run context, which cannot be sent to its own invocation ({error}); "
            "make the context a pydantic model or a dataclass"
        ) from error


def _merge_context(entry: RegisteredTool, before: Any, after_json: Any, live: Any) -> None:
    """Copy the fields the tool changed (snapshot vs. its result) onto the live run context."""
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
