"""What we know about a durable tool, and how its body runs inside its journaled step. Private module."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import restate
from agents.function_schema import FuncSchema, function_schema
from pydantic import TypeAdapter

from resilient_agents._durable import RetrySettings, TypeAdapterSerde
from resilient_agents.errors import TerminalAgentError

from ._context import in_tool_step

JSON_SERDE: TypeAdapterSerde[Any] = TypeAdapterSerde(Any)
"""Plain JSON values in and out of the journal."""

REPEATING_ERRORS = (TypeError, ValueError, LookupError, ArithmeticError, AttributeError)
"""Failures of a tool body that the same arguments repeat (bugs, bad input): the call fails at once, not
retried, and the model reads the error."""


@dataclasses.dataclass(frozen=True)
class RegisteredTool:
    """A function made into a durable tool: its name, schema, output and run-context types, and options."""

    key: str
    """``<tool name>@<module>.<qualified name>``: names the tool in errors and logs."""
    name: str
    """The tool name the model sees."""
    function: Callable[..., Any]
    schema: FuncSchema
    """The SDK's view of the function's parameters."""
    output: TypeAdapter[Any]
    """Serializes the return value (its annotated type)."""
    context_type: Any
    """The ``TContext`` of a ``RunContextWrapper[TContext]`` first parameter, or ``None`` if it takes none."""
    own_invocation: bool = False
    """Whether the body may use durable actions (``durable_tool(durable_actions=True)``): it then runs in the
    turn itself rather than inside one journaled step."""
    retry: RetrySettings | None = None
    """How a failing body is retried (``durable_tool(retry=...)``); ``None`` for the run's tool settings."""

    @property
    def takes_context(self) -> bool:
        """Whether the function's first parameter is the run context."""
        return self.schema.takes_context

    def context_adapter(self) -> TypeAdapter[Any]:
        """A pydantic adapter for the run context type."""
        return TypeAdapter(self.context_type if self.context_type is not None else Any)


def register(
    name: str,
    function: Callable[..., Any],
    output_type: Any,
    *,
    own_invocation: bool = False,
    retry: RetrySettings | None = None,
) -> RegisteredTool:
    """Describe ``function`` as the durable tool ``name`` whose return value has type ``output_type``."""
    schema = function_schema(function, name_override=name)
    return RegisteredTool(
        key=f"{name}@{function.__module__}.{function.__qualname__}",
        name=name,
        function=function,
        schema=schema,
        output=TypeAdapter(output_type),
        context_type=_context_type(function, schema),
        own_invocation=own_invocation,
        retry=retry,
    )


def _context_type(function: Callable[..., Any], schema: FuncSchema) -> Any:
    if not schema.takes_context:
        return None
    hints = typing.get_type_hints(function)
    first = next(iter(schema.signature.parameters))
    args = typing.get_args(hints.get(first))
    return args[0] if args else None


def fail_fast(tool_name: str, error: Exception) -> Exception:
    """Return a terminal error for a tool body's failure the same input would repeat, else ``error`` itself."""
    if isinstance(error, REPEATING_ERRORS) and not isinstance(error, restate.TerminalError):
        return TerminalAgentError(
            f"tool {tool_name!r} failed with {error!r}; not retried: the same call would fail again"
        )
    return error


async def run_body(entry: RegisteredTool, body: Callable[[], Awaitable[Any]]) -> Any:
    """Run a tool body inside its journaled step; return its output as JSON.

    Durable actions are refused inside (see :func:`in_tool_step`), and a failure the same call would repeat
    fails the step at once (:func:`fail_fast`).
    """
    with in_tool_step(entry.name):
        try:
            return entry.output.dump_python(await body(), mode="json")
        except Exception as error:
            raise fail_fast(entry.name, error) from error
