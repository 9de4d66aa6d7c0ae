"""Tool kind (a): a local Python function run as one journaled step. Private module."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import re
import typing
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, overload

import restate
from pydantic import BaseModel, ConfigDict, Field, create_model

from resilient_agents import _tracing
from resilient_agents._durable import unique_step_name

from .._settings import LoopSettings, StepRetry
from .._types import ToolCallRequest, ToolDefinition
from ._base import (
    DETERMINISTIC_ERRORS,
    TEXT_SERDE,
    LoopToolContext,
    Pending,
    ToolStart,
    deterministic_failure,
    object_schema,
    parse_arguments,
    started,
    to_text,
    validate_arguments,
)

_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclasses.dataclass(frozen=True)
class LoopFunctionTool:
    """A local Python function run as one journaled step ``tool: <name>``. Build it with :func:`loop_tool`."""

    name: str
    """The tool's name, as the model sees it."""
    description: str
    """What the tool does, for the model."""
    function: Callable[..., Any]
    """The function (sync functions run in a worker thread so parallel calls overlap)."""
    args_model: type[BaseModel]
    """The pydantic model of the arguments, derived from the signature."""
    context_param: str | None = None
    """The parameter that receives the :class:`LoopToolContext`, if the function has one."""
    retry: StepRetry | None = None
    """How Restate retries the function when it raises; ``None`` uses :attr:`LoopSettings.tool_retry`."""
    timeout: timedelta | None = None
    """How long one attempt may take; a slower attempt fails with ``TimeoutError`` and is retried within
    :attr:`retry` (then the model reads the error). ``None``: no limit of its own."""

    def definition(self) -> ToolDefinition:
        """The tool as offered to the model."""
        return ToolDefinition(name=self.name, description=self.description, parameters=object_schema(self.args_model))

    def start(
        self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext, settings: LoopSettings
    ) -> ToolStart:
        """Validate the call's arguments and start the journaled step (not awaited here)."""
        return started(self.name, lambda: self._start(ctx, call, tool_ctx, settings))

    def _start(
        self, ctx: restate.Context, call: ToolCallRequest, tool_ctx: LoopToolContext, settings: LoopSettings
    ) -> ToolStart:
        args = validate_arguments(self.args_model, self.name, parse_arguments(call))
        kwargs = {name: getattr(args, name) for name in self.args_model.model_fields}
        if self.context_param is not None:
            kwargs[self.context_param] = tool_ctx
        function, tool_name, limit = self.function, self.name, self.timeout
        step = unique_step_name(ctx, f"tool: {self.name}")
        traced = functools.partial(
            _tracing.tool_call,
            _tracing.parent(ctx),
            step=step,
            name=tool_name,
            call_id=call.call_id,
            batch_size=_tracing.tool_batch(),
        )

        async def run() -> str:
            with traced() as span:  # Inside the step: a replayed tool call emits no span.
                span.set_content("input.value", call.arguments)
                is_async = inspect.iscoroutinefunction(function)
                pending = function(**kwargs) if is_async else asyncio.to_thread(function, **kwargs)
                try:
                    output = to_text(await (pending if limit is None else _within(pending, limit, tool_name)))
                except DETERMINISTIC_ERRORS as error:  # A bug or a bad value: the same call fails the same way.
                    raise deterministic_failure(tool_name, error) from error
                span.set_content("output.value", output)
                return output

        options = (self.retry or settings.tool_retry).run_options(TEXT_SERDE)
        return Pending(ctx.run_typed(step, run, options), to_text)


async def _within(call: Awaitable[Any], limit: timedelta, tool: str) -> Any:
    try:
        return await asyncio.wait_for(call, limit.total_seconds())
    except TimeoutError:
        raise TimeoutError(f"the tool {tool!r} did not finish within {limit.total_seconds():g} seconds") from None


@overload
def loop_tool(function: Callable[..., Any], /) -> LoopFunctionTool: ...


@overload
def loop_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    retry: StepRetry | None = None,
    timeout: timedelta | None = None,
) -> Callable[[Callable[..., Any]], LoopFunctionTool]: ...


def loop_tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    retry: StepRetry | None = None,
    timeout: timedelta | None = None,
) -> LoopFunctionTool | Callable[[Callable[..., Any]], LoopFunctionTool]:
    """Turn a function into a :class:`LoopFunctionTool`: its signature and docstring become the tool's schema.

    The function runs as one journaled ``ctx.run_typed`` step: once it has succeeded, a replay returns the
    journaled output and does not call it again. It may be sync or async, must return something pydantic can
    encode as JSON (a ``str`` is given to the model as it is), and must not use the Restate context: a tool
    that needs several durable steps belongs in a service handler (see :func:`service_tool`). A parameter
    annotated :class:`LoopToolContext` is filled by the loop (session key, agent, call id) and hidden from the model.

    Failures never loop: arguments that do not fit the signature go back to the model as an error without
    running the function; an exception a retry cannot fix (``TypeError``, ``ValueError``, ``OverflowError``,
    ``KeyError``... see ``DETERMINISTIC_ERRORS`` in ``_tools/_base.py``) fails the call at once; any other
    exception is retried within ``retry``. Either way the model then reads ``error: ...`` as the tool's output.

    Example:
        >>> @loop_tool
        ... def convert(amount: float, currency: str) -> str:
        ...     '''Convert an amount to euros.
        ...
        ...     Args:
        ...         amount: The amount.
        ...         currency: The ISO code of its currency.
        ...     '''
        ...     return f"{amount} {currency}"

    Args:
        function: The function (when used as ``@loop_tool`` without parentheses).
        name: The tool's name; defaults to the function's name.
        description: What the tool does; defaults to the docstring's first paragraph.
        retry: How Restate retries the function when it raises (raise :class:`restate.TerminalError` to give up
            at once: the model then sees the error message as the tool's output).
        timeout: How long one attempt may take; a slower one fails with ``TimeoutError`` and is retried within
            ``retry``. A sync function keeps running in its worker thread after the timeout.

    Returns:
        The tool, or a decorator that makes one.

    Raises:
        TypeError: If the function takes ``*args`` or ``**kwargs``.
    """

    def make(fn: Callable[..., Any]) -> LoopFunctionTool:
        doc = inspect.getdoc(fn) or ""
        tool_name = name or fn.__name__
        args_model, context_param = _args_model(fn, tool_name, _arg_docs(doc))
        return LoopFunctionTool(
            name=tool_name,
            description=description if description is not None else doc.split("\n\n")[0].replace("\n", " "),
            function=fn,
            args_model=args_model,
            context_param=context_param,
            retry=retry,
            timeout=timeout,
        )

    return make(function) if function is not None else make


def _args_model(fn: Callable[..., Any], tool_name: str, docs: dict[str, str]) -> tuple[type[BaseModel], str | None]:
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    context_param: str | None = None
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {tool_name!r}: *args and **kwargs cannot be described to a model; name them")
        hint = hints.get(param.name, Any)
        if hint is LoopToolContext:
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hint, Field(default, description=docs.get(param.name)))
    # allow_inf_nan=False: "inf" or "nan" given for a float is an argument error for the model, not a tool input.
    config = ConfigDict(extra="forbid", allow_inf_nan=False)
    model = create_model(f"{tool_name}_arguments", __config__=config, **fields)
    return model, context_param


def _arg_docs(doc: str) -> dict[str, str]:
    """The parameter descriptions of a Google-style docstring's ``Args:`` section (continuation lines joined)."""
    docs: dict[str, str] = {}
    in_args, current, indent = False, "", 0
    for line in doc.splitlines():
        width = len(line) - len(line.lstrip())
        if line.strip() in ("Args:", "Arguments:"):
            in_args, current, indent = True, "", 0
        elif in_args and line.strip() and width == 0:
            in_args = False  # The next section (Returns:, Raises:...) starts.
        elif in_args and current and width > indent and line.strip():
            docs[current] += " " + line.strip()
        elif in_args and (match := _ARG_LINE.match(line)):
            current, indent = match.group(1).lstrip("*"), width
            docs[current] = match.group(2).strip()
    return docs
