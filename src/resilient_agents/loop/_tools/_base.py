"""What every tool kind shares: the call context, start results and argument checks. Private module."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any, TypeAlias

import pydantic_core
import restate
from pydantic import BaseModel, ValidationError
from restate.serde import Serde

from .._types import ToolCallRequest

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}

logger = logging.getLogger("resilient_agents.loop")

DETERMINISTIC_ERRORS: tuple[type[Exception], ...] = (
    TypeError,
    ValueError,
    AttributeError,
    NameError,
    LookupError,
    ArithmeticError,
    AssertionError,
    NotImplementedError,
    RecursionError,
)
"""Exceptions a tool raises again for the same arguments (bugs, overflows, bad values): never retried.

A tool that raises one of them fails at once and the model reads the error as the tool's output. Everything
else (``OSError`` and its ``ConnectionError``/``TimeoutError``, ``RuntimeError``, ``httpx`` errors...) counts as
transient and is retried by Restate within the tool's :class:`StepRetry` (so never forever); raise
:class:`restate.exceptions.RetryableError` to retry one of the kinds above on purpose.
"""


@dataclasses.dataclass(frozen=True)
class LoopToolContext:
    """What the loop tells a tool about the call; a :func:`loop_tool` function gets it by annotating a parameter.

    It never comes from the model: use :attr:`session_key` for anything that must belong to the session's owner.
    """

    session_key: str
    """The key of the session's Virtual Object (e.g. the customer id); ``""`` in a stateless agent service."""
    agent: str
    """The name of the agent whose model called the tool."""
    call_id: str
    """The model's id of this tool call (journaled, so stable across replays)."""
    invocation_id: str = ""
    """The Restate invocation id of the turn; with :attr:`call_id` it names this call uniquely (e.g. in
    :func:`~resilient_agents.loop.unique_key`)."""


class _TextSerde(Serde[str]):
    """Journals a tool's output as plain UTF-8 text, so the Restate UI shows it as written."""

    def serialize(self, obj: str | None) -> bytes:
        return (obj or "").encode()

    def deserialize(self, buf: bytes) -> str | None:
        return bytes(buf).decode()


TEXT_SERDE = _TextSerde()


@dataclasses.dataclass(frozen=True)
class Pending:
    """A started durable action whose result the tool phase awaits (with the batch)."""

    future: restate.RestateDurableFuture[Any]
    """The durable future of the action."""
    decode: Callable[[Any], str]
    """Turns the future's value into the text given to the model."""


@dataclasses.dataclass(frozen=True)
class Ready:
    """A tool output known without waiting: a validation error, or a send that was just journaled."""

    text: str
    """The text given to the model."""


ToolStart: TypeAlias = Pending | Ready
"""What starting a tool call gives: a pending durable action or an output at once."""


class ArgumentError(Exception):
    """The model's arguments do not fit the tool; the message goes back to the model."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is out of range")
    return value


def parse_arguments(call: ToolCallRequest) -> dict[str, Any]:
    """Decode a call's JSON arguments into a dict (an empty string means no arguments).

    Only strict JSON is accepted: ``NaN``, ``Infinity`` and numbers that overflow a float (``1e400``) are
    rejected here, so they never reach a tool as ``inf`` or ``nan``.

    Raises:
        ArgumentError: For arguments that are not a JSON object (the message goes back to the model).
    """
    try:
        value = (
            json.loads(call.arguments, parse_constant=_reject_constant, parse_float=_finite_float)
            if call.arguments.strip()
            else {}
        )
    except (ValueError, RecursionError) as error:  # RecursionError: JSON nested thousands of levels deep.
        raise ArgumentError(f"the arguments of {call.name!r} are not valid JSON ({_short(error)})") from None
    if not isinstance(value, dict):
        raise ArgumentError(f"the arguments of {call.name!r} must be a JSON object, got {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _short(error: BaseException, limit: int = 300) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def validate_arguments(model: type[BaseModel] | None, tool: str, args: dict[str, Any]) -> BaseModel | None:
    """Validate ``args``; undeclared arguments are rejected (never silently dropped or passed on)."""
    declared = set() if model is None else {f.alias or name for name, f in model.model_fields.items()}
    unexpected = sorted(set(args) - declared)
    if unexpected:
        raise ArgumentError(
            f"rejected: {tool!r} takes no argument {', '.join(map(repr, unexpected))}. "
            "It always acts on the current session's own records; do not pass ids of other customers or records."
        )
    if model is None:
        return None
    try:
        return model.model_validate(args)
    except ValidationError as error:
        raise ArgumentError(f"invalid arguments for {tool!r}: {error}") from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as error:  # Raised by a custom validator.
        raise ArgumentError(f"invalid arguments for {tool!r}: {type(error).__name__}: {_short(error)}") from None


def object_schema(model: type[BaseModel] | None) -> dict[str, Any]:
    """The JSON schema offered to the model: an object that allows no undeclared properties.

    Every model call offers the agent's tools, so each model's schema is generated once per process (pydantic's
    schema generation cost more than the rest of a turn's tool handling) and handed out as a fresh copy.
    """
    if model is None:
        return dict(_EMPTY_SCHEMA)
    text = _SCHEMA_TEXTS.get(model)
    if text is None:
        schema = model.model_json_schema()
        schema.setdefault("properties", {})
        schema["additionalProperties"] = False
        text = _SCHEMA_TEXTS[model] = json.dumps(schema)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


_SCHEMA_TEXTS: weakref.WeakKeyDictionary[type[BaseModel], str] = weakref.WeakKeyDictionary()


def to_text(value: Any) -> str:
    """A tool's return value as the text given to the model (a ``str`` as it is, anything else as JSON)."""
    return value if isinstance(value, str) else pydantic_core.to_json(value).decode()


def decode_call_output(value: Any) -> str:
    """A handler's JSON answer, given to the model as a string (a JSON string is unwrapped)."""
    text = bytes(value).decode() if isinstance(value, bytes | bytearray) else to_text(value)
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, str) else text


def started(tool: str, start: Callable[[], ToolStart]) -> ToolStart:
    """Run a tool's start; any failure becomes an error output for the model instead of failing the turn.

    Starting a tool only validates the model's (journaled) arguments and creates the durable action, so a
    failure here would repeat on every retry and replay: raised out of the handler, it would make Restate
    retry the turn forever and block the session behind it. Arguments that do not fit (:class:`ArgumentError`)
    and terminal errors give their message; a bug (say a ``workflow_key`` function raising ``TypeError``) is
    logged and reported to the model as a failed tool.
    """
    try:
        return start()
    except ArgumentError as error:
        return Ready(f"error: {error}")
    except restate.TerminalError as error:
        return Ready(f"error: {error.message}")
    except Exception as error:
        logger.exception("tool %r could not start", tool)
        return Ready(f"error: the tool {tool!r} failed before it ran ({type(error).__name__}: {_short(error)})")


def deterministic_failure(tool: str, error: Exception) -> restate.TerminalError:
    """The terminal error that replaces a :data:`DETERMINISTIC_ERRORS` failure of a tool (not retried)."""
    return restate.TerminalError(
        f"the tool {tool!r} failed ({type(error).__name__}: {_short(error)}); retrying cannot help", status_code=500
    )
