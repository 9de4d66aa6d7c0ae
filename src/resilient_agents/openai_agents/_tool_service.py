"""Durable tool calls as their own Restate invocations (``DurableTools/<tool key>/call``). Private module.

When one model response asks for several durable tools, each call runs as a separate invocation of the
shared handler ``call`` of the Virtual Object ``DurableTools`` (keyed by tool name, so the UI shows
``DurableTools/get_weather/call``). The key is ``<tool name>@<module>.<function>``.
Each call has its own journal, so a tool may run any number of durable
actions (steps, sleeps, service calls) and any interleaving between concurrent tools replays exactly.
Shared handlers run concurrently, even for the same key.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import restate
from agents.function_schema import FuncSchema, function_schema
from agents.tool_context import ToolContext
from pydantic import BaseModel, ConfigDict, TypeAdapter

from resilient_agents._durable import RetrySettings, TypeAdapterSerde
from resilient_agents.errors import ConfigurationError, TerminalAgentError

from ._context import in_tool_step

TOOLS_OBJECT = "DurableTools"
"""Name of the Virtual Object that runs parallel durable tool calls."""
TOOLS_HANDLER = "call"


class ToolCallRequest(BaseModel):
    """What the parent turn sends to run one durable tool call (journaled as the call's parameter)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: typing.Literal[1] = 1
    call_id: str
    """The model's tool call id."""
    arguments: str
    """The arguments JSON exactly as the model wrote it."""
    context: Any = None
    """The run context snapshot (JSON) when the tool takes the run context, else ``None``."""


class ToolCallResult(BaseModel):
    """What a durable tool call returns to the parent turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: typing.Literal[1] = 1
    output: Any
    """The tool's return value as JSON."""
    context: Any = None
    """The run context after the tool ran (JSON), when the tool takes the run context."""


@dataclasses.dataclass(frozen=True)
class RegisteredTool:
    """A durable tool known to this process, found by name in ``DurableTools/<name>/call``."""

    key: str
    """Registry key and Virtual Object key: ``<tool name>@<module>.<qualified name>``."""
    name: str
    """The tool name the model sees."""
    function: Callable[..., Any]
    schema: FuncSchema
    """The SDK's view of the function's parameters (parses the model's arguments)."""
    output: TypeAdapter[Any]
    """Serializes the return value (its annotated type)."""
    context_type: Any
    """The ``TContext`` of a ``RunContextWrapper[TContext]`` first parameter, or ``None`` if it takes none."""
    own_invocation: bool = False
    """Whether every call is its own invocation whose body may use durable actions (``invocation=True``)."""
    retry: RetrySettings | None = None
    """How a failing body is retried (``durable_tool(retry=...)``); ``None`` for the default settings."""

    @property
    def takes_context(self) -> bool:
        """Whether the function's first parameter is the run context."""
        return self.schema.takes_context

    def context_adapter(self) -> TypeAdapter[Any]:
        """A pydantic adapter for the run context type."""
        return TypeAdapter(self.context_type if self.context_type is not None else Any)


_REGISTRY: dict[str, RegisteredTool] = {}


def register(
    name: str,
    function: Callable[..., Any],
    output_type: Any,
    *,
    own_invocation: bool = False,
    retry: RetrySettings | None = None,
) -> RegisteredTool:
    """Register a durable tool so a ``DurableTools/<key>/call`` invocation of this deployment can find it.

    The key is ``<tool name>@<module>.<qualified name>``: stable across processes and restarts, and unique
    even when two modules define tools of the same name.

    Raises:
        ConfigurationError: When a different function already has the same key (e.g. tools made in a loop
            by one factory function): give each a distinct ``name_override``.
    """
    key = f"{name}@{_identity(function)}"
    existing = _REGISTRY.get(key)
    if existing is not None and existing.function is not function and "<locals>" in key:
        raise ConfigurationError(
            f"two different durable tools have the key {key!r}; tools made by one factory function need "
            "distinct names: pass name_override= to durable_tool"
        )
    schema = function_schema(function, name_override=name)
    entry = RegisteredTool(
        key, name, function, schema, TypeAdapter(output_type), _context_type(function, schema), own_invocation, retry
    )
    _REGISTRY[key] = entry
    return entry


def lookup(key: str) -> RegisteredTool:
    """Return the durable tool registered under ``key``.

    Raises:
        TerminalAgentError: When this process has no such tool (the deployment does not define it).
    """
    entry = _REGISTRY.get(key)
    if entry is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise TerminalAgentError(f"no durable tool {key!r} in this deployment (known: {known})", 404)
    return entry


def _identity(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def _context_type(function: Callable[..., Any], schema: FuncSchema) -> Any:
    if not schema.takes_context:
        return None
    hints = typing.get_type_hints(function)
    first = next(iter(schema.signature.parameters))
    args = typing.get_args(hints.get(first))
    return args[0] if args else None


REPEATING_ERRORS = (TypeError, ValueError, LookupError, ArithmeticError, AttributeError)
"""Failures of a tool body that the same arguments repeat (bugs, bad input): the call fails at once, not retried,
and the model reads the error."""


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


async def call_registered(entry: RegisteredTool, request: ToolCallRequest, context: Any) -> Any:
    """Parse the model's arguments as the SDK would and call the tool function; return its raw result."""
    parsed = entry.schema.params_pydantic_model.model_validate_json(request.arguments or "{}")
    args, kwargs = entry.schema.to_call_args(parsed)
    if entry.takes_context:
        tool_context = ToolContext(
            context=context, tool_name=entry.name, tool_call_id=request.call_id, tool_arguments=request.arguments
        )
        args = [tool_context, *args]
    result = entry.function(*args, **kwargs)
    if hasattr(result, "__await__"):
        result = await result
    return result


_TOOLS_OBJECT: restate.VirtualObject | None = None
JSON_SERDE: TypeAdapterSerde[Any] = TypeAdapterSerde(Any)
"""Plain JSON values in and out of the journal."""


def tools_object(retry_policy: restate.InvocationRetryPolicy | None = None) -> restate.VirtualObject:
    """Return the ``DurableTools`` Virtual Object; bind it into your app (``durable_app`` does it for you).

    Args:
        retry_policy: How the engine retries a failing tool call. Default: 10 attempts, 200 ms doubling to
            5 s, then the call fails and the model is told the tool failed.
    """
    global _TOOLS_OBJECT
    if _TOOLS_OBJECT is not None:
        if retry_policy is not None and retry_policy != _TOOLS_OBJECT.invocation_retry_policy:
            raise ConfigurationError(
                "tools_object() already exists with another retry policy: there is one DurableTools object per "
                "process, so call tools_object(retry_policy=...) once, before durable_app(...)"
            )
        return _TOOLS_OBJECT
    obj = restate.VirtualObject(
        TOOLS_OBJECT,
        description="Runs the durable tool calls of one model response concurrently, each with its own journal.",
        invocation_retry_policy=retry_policy or _default_tool_retry_policy(),
    )

    @obj.handler(name=TOOLS_HANDLER, kind="shared")
    async def call(ctx: restate.ObjectSharedContext, request: ToolCallRequest) -> ToolCallResult:
        entry = lookup(ctx.key())
        context = entry.context_adapter().validate_python(request.context) if entry.takes_context else None
        if entry.own_invocation:
            output = entry.output.dump_python(await call_registered(entry, request, context), mode="json")
        else:
            # The body is one journaled step, exactly as when the tool runs alone inside the turn, with the
            # tool's own retry settings.
            async def step() -> Any:
                return await run_body(entry, lambda: call_registered(entry, request, context))

            output = await ctx.run_typed(
                f"tool: {entry.name}", step, (entry.retry or RetrySettings()).run_options(JSON_SERDE)
            )
        after = entry.context_adapter().dump_python(context, mode="json") if entry.takes_context else None
        return ToolCallResult(output=output, context=after)

    _TOOLS_OBJECT = obj
    return obj


def _default_tool_retry_policy() -> restate.InvocationRetryPolicy:
    from datetime import timedelta

    return restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        exponentiation_factor=2.0,
        max_interval=timedelta(seconds=5),
        max_attempts=10,
        on_max_attempts="kill",
    )


def durable_app(services: list[restate.Service | restate.VirtualObject | restate.Workflow], **kwargs: Any) -> Any:
    """``restate.app`` with the ``DurableTools`` and ``Approvals`` objects added: serve this from your deployment.

    Args:
        services: Your services, objects and workflows.
        **kwargs: Passed to :func:`restate.app` (e.g. ``identity_keys``).
    """
    from resilient_agents._progress import install
    from resilient_agents.approvals import approvals_object

    from ._streaming import with_streams

    install()
    extra = [tools_object(), approvals_object()]
    given = {id(service) for service in services}
    app = restate.app(services=[*services, *(obj for obj in extra if id(obj) not in given)], **kwargs)
    return with_streams(app)  # Also serves GET /_streams/<invocation id> (see DurableRunner.run_streamed).
