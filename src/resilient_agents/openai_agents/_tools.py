"""``durable_tool``: a function tool whose result is journaled. Private module."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from agents import FunctionTool, function_tool
from agents.tool import ToolErrorFunction

from ._context import current_run, durable_context
from ._serde import TypeAdapterSerde
from ._settings import RetrySettings

ToolFunction = Callable[..., Any]


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
) -> FunctionTool | Callable[[ToolFunction], FunctionTool]:
    """Turn a function into an Agents SDK tool whose call is one journaled Restate step.

    Use it in place of :func:`agents.function_tool` for a tool with a side effect (sending an email,
    booking a seat, calling an API that is slow or costs money). Inside a durable run the function runs
    at most until it succeeds once; its return value is journaled under ``"tool: <name>"`` and a replay
    returns the journaled value without calling the function again. Outside a durable run it is a plain
    function tool.

    The return value must be JSON-serializable by pydantic (``str``, numbers, ``dict``/``list``,
    dataclasses, pydantic models); annotate the return type so replays rebuild the same type.

    Args:
        func: The tool function (sync or async); its signature and docstring become the tool schema.
        name_override: Tool name (defaults to the function name).
        description_override: Tool description (defaults to the docstring).
        retry: How Restate retries the function when it raises (defaults to the run's tool settings).
            Raise :class:`restate.TerminalError` to fail without retrying.
        failure_error_function: As in :func:`agents.function_tool`: turns a final failure into a message
            for the model. ``None`` keeps the SDK's default.
        strict_mode: As in :func:`agents.function_tool`.

    Returns:
        A :class:`agents.FunctionTool` (or a decorator producing one, when called with options only).
    """

    def decorate(fn: ToolFunction) -> FunctionTool:
        tool_name = name_override or fn.__name__
        journaled = _journaled(fn, tool_name, retry)
        kwargs: dict[str, Any] = {}
        if failure_error_function is not None:
            kwargs["failure_error_function"] = failure_error_function
        return function_tool(
            journaled,
            name_override=tool_name,
            description_override=description_override,
            strict_mode=strict_mode,
            **kwargs,
        )

    if func is not None:
        return decorate(func)
    return decorate


def _journaled(fn: ToolFunction, tool_name: str, retry: RetrySettings | None) -> ToolFunction:
    serde: TypeAdapterSerde[Any] = TypeAdapterSerde(_return_type(fn))
    step_name = f"tool: {tool_name}"

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        run = current_run()
        if run is None:
            return await call()
        settings = retry or run.settings.tool_retry
        return await durable_context().run_typed(step_name, call, settings.run_options(serde))

    return wrapper


def _return_type(fn: ToolFunction) -> Any:
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        return Any
    return hints.get("return", Any)
