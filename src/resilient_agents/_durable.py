"""Pieces both agent paths share: serdes, request bodies, retry settings, and sorting model failures.

Private module. It imports neither the Agents SDK nor the native loop, so each path can use it without
pulling in the other (importing the Agents SDK costs over a second).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx
import openai
import restate
from pydantic import TypeAdapter
from restate.exceptions import RetryableError
from restate.serde import Serde

from resilient_agents.errors import InvalidInputError, ModelUnavailableError, TerminalAgentError

T = TypeVar("T")

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_MAX_RETRY_AFTER = timedelta(minutes=5)


class TypeAdapterSerde(Serde[T], Generic[T]):
    """JSON (de)serialization through a pydantic :class:`TypeAdapter`.

    Unlike the SDK's default serde it round-trips pydantic models, dataclasses, ``TypedDict``s and containers
    of them (``list[PendingApproval]``) back into the annotated type, so replayed values equal first-run values.

    Args:
        type_: The type of the values (``Any`` for plain JSON).
    """

    def __init__(self, type_: Any) -> None:
        self._adapter: TypeAdapter[T] = TypeAdapter(type_)

    def serialize(self, obj: T | None) -> bytes:
        """Encode ``obj`` as JSON."""
        return self._adapter.dump_json(obj)  # type: ignore[arg-type]  # None is valid JSON (null) here.

    def deserialize(self, buf: bytes) -> T | None:
        """Decode JSON into the annotated type."""
        return self._adapter.validate_json(buf)


class RawBytes(Serde[bytes]):
    """Hands the request body to the handler untouched, so the handler can reject bad input clearly."""

    def deserialize(self, buf: bytes) -> bytes | None:
        """Return the body as it is."""
        return bytes(buf)

    def serialize(self, obj: bytes | None) -> bytes:
        """Return the bytes as they are."""
        return obj or b""


def parse_user_message(body: bytes, max_chars: int, *, example: str, limit_setting: str) -> str:
    """Validate a request body holding one user message as a JSON string.

    Args:
        body: The raw request body.
        max_chars: The longest accepted message.
        example: A curl command that shows a valid request, quoted in the errors.
        limit_setting: The setting that raises the limit, quoted in the too-long error.

    Returns:
        The message.

    Raises:
        InvalidInputError: For an empty body, invalid JSON, JSON that is not a string, an empty message or one
            longer than ``max_chars``. It is terminal (HTTP 400): Restate does not retry it.
    """
    hint = f"e.g. {example}"
    if not body.strip():
        raise InvalidInputError(f"empty request body: send the message as a JSON string, {hint}")
    try:
        value: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"request body is not valid JSON ({error}): send a JSON string, {hint}") from None
    if not isinstance(value, str):
        raise InvalidInputError(f"expected the message as a JSON string, got a JSON {_json_kind(value)}; {hint}")
    if not value.strip():
        raise InvalidInputError("the message is empty")
    if len(value) > max_chars:
        raise InvalidInputError(
            f"the message has {len(value)} characters; the maximum is {max_chars} ({limit_setting})"
        )
    return value


def _json_kind(value: Any) -> str:
    kinds: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "number"), (float, "number"), (list, "array"))
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    return "object" if isinstance(value, dict) else "null"


@dataclasses.dataclass(frozen=True)
class RetrySettings:
    """How Restate retries one journaled step (a model call or a tool) that fails transiently.

    Failures that cannot succeed on retry (HTTP 4xx other than 408/409/425/429, usage errors,
    :class:`restate.TerminalError`) are never retried; a ``retry-after`` from the provider wins over the
    backoff.
    """

    max_attempts: int | None = 10
    """Attempts before the step fails terminally; ``None`` retries until ``max_duration``."""
    initial_interval: timedelta = timedelta(milliseconds=500)
    """Wait before the first retry."""
    max_interval: timedelta = timedelta(seconds=30)
    """Upper bound of the exponential backoff between attempts."""
    factor: float = 2.0
    """Backoff multiplier between attempts."""
    max_duration: timedelta | None = timedelta(minutes=10)
    """Total time after which the step stops retrying; ``None`` for no limit."""

    def run_options(self, serde: Serde[T]) -> restate.RunOptions[T]:
        """Return these settings as :class:`restate.RunOptions`, with ``serde`` for the step's result."""
        return restate.RunOptions(
            serde=serde,
            max_attempts=self.max_attempts,
            initial_retry_interval=self.initial_interval,
            max_retry_interval=self.max_interval,
            retry_interval_factor=self.factor,
            max_duration=self.max_duration,
        )


def fast_retry_policy() -> restate.InvocationRetryPolicy:
    """Invocation retry policy for agent services: retry quickly, back off to at most 500 ms.

    With the engine's default (500 ms doubling to a minute) a service that crashed and came back took over
    6 s to pick its invocation up again. Capping the interval at 500 ms resumes a turn within half a second
    of the restart while costing two connection attempts per second during an outage; after
    ``max_attempts`` (about an hour of outage) the invocation is paused, not failed, so nothing is lost.
    """
    return restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=100),
        exponentiation_factor=2.0,
        max_interval=timedelta(milliseconds=500),
        max_attempts=7200,
        on_max_attempts="pause",
    )


def error_for_status(status: int, message: str, headers: Mapping[str, str], host: str = "") -> Exception:
    """Return the exception for a model server's HTTP error answer.

    How restate-sdk 1.3.0 paces retries of a failing ``ctx.run`` step (read in its ``server_context.py``):
    a :class:`RetryableError` is retried after its ``retry_after`` or, without one, on the *invocation's*
    retry policy (for our services 100 ms doubling to 500 ms), ignoring the step's intervals; any other
    exception is retried with the step's own exponential backoff (:class:`RetrySettings`). Both respect
    the step's ``max_attempts`` and ``max_duration``. So a ``RetryableError`` is used only to carry a
    ``retry-after``; every other transient failure is a :class:`ModelUnavailableError`.

    Returns:
        For 408/409/425/429 and 5xx a :class:`RetryableError` when the server sent ``retry-after``, else a
        :class:`ModelUnavailableError`; a :class:`TerminalAgentError` for every other status.
    """
    where = f" from {host}" if host else ""
    text = f"model request{where} failed with HTTP {status}: {message}"
    if status in _RETRYABLE_STATUS or status >= 500:
        retry_after = _retry_after(headers)
        if retry_after is not None:
            return RetryableError(text, status_code=status, retry_after=retry_after)
        return ModelUnavailableError(text)
    return TerminalAgentError(f"{text} (not retried: the same request would fail again)", status_code=status)


def classify_model_error(error: BaseException, host: str = "") -> BaseException:
    """Return the exception to raise from a journaled model step in place of ``error``.

    A failure the same request could survive (rate limits, overload, server errors, timeouts, broken
    connections, garbled bodies) becomes a :class:`ModelUnavailableError` (or a :class:`RetryableError`
    carrying the server's ``retry-after``, see :func:`error_for_status`); one it can never survive (bad
    request, authentication, unknown model, an answer that fails validation, a bug raising ``TypeError``)
    a :class:`TerminalAgentError`. Restate's own errors and other failures are returned as they are
    (retried with the step's backoff until its retry window ends).

    Args:
        error: What the model client raised.
        host: The model server's host, named in the messages.
    """
    where = f" {host}" if host else ""
    if isinstance(error, restate.TerminalError | RetryableError | ModelUnavailableError):
        return error
    if isinstance(error, openai.APIStatusError):
        return error_for_status(error.status_code, error.message, error.response.headers, host)
    if isinstance(error, openai.APIConnectionError | httpx.TransportError):  # Includes timeouts.
        return ModelUnavailableError(f"model server{where} unreachable: {error!r}")
    if isinstance(error, openai.APIResponseValidationError | json.JSONDecodeError):  # Garbled or truncated.
        return ModelUnavailableError(f"model server{where} sent an unreadable answer: {error!r}")
    if isinstance(error, ValueError | TypeError | AttributeError | KeyError):  # Validation errors and bugs.
        return TerminalAgentError(
            f"model call to{where or ' the model server'} failed with {error!r}; the same request would fail "
            "again (a schema or validation problem, or a bug), so it is not retried"
        )
    return error


def _retry_after(headers: Mapping[str, str]) -> timedelta | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # An HTTP date: the step's own backoff is good enough then.
    return min(timedelta(seconds=max(seconds, 0.0)), _MAX_RETRY_AFTER)


_STEP_NAMES_ATTRIBUTE = "_resilient_agents_step_names"


def unique_step_name(ctx: restate.Context, name: str) -> str:
    """``name`` the first time it is used in this invocation, then ``"<name> #2"``, ``"<name> #3"``...

    Keeps every step name of a journal unique (a tool called by several runs of one handler) while the
    common case keeps its plain name (``tool: get_weather``).
    """
    used: dict[str, int] = getattr(ctx, _STEP_NAMES_ATTRIBUTE, None) or {}
    setattr(ctx, _STEP_NAMES_ATTRIBUTE, used)
    used[name] = used.get(name, 0) + 1
    return name if used[name] == 1 else f"{name} #{used[name]}"


async def durable_time(ctx: restate.Context) -> float:
    """``ctx.time()`` under a step name of its own (``clock``, ``clock #2``...): the wall clock, journaled.

    restate-sdk names every ``ctx.time()`` step ``timestamp``, so a handler that reads the clock twice would
    repeat a step name in its journal.
    """
    return await ctx.run_typed(unique_step_name(ctx, "clock"), _wall_clock)


def _wall_clock() -> float:
    return time.time()
