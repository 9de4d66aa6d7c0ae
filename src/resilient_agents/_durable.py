"""Pieces both agent paths share: serdes, request bodies, retry settings, and sorting model failures.

Private module. It imports neither the Agents SDK nor the native loop, so each path can use it without
pulling in the other (importing the Agents SDK costs over a second).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx
import openai
import restate
from pydantic import TypeAdapter
from restate.exceptions import RetryableError
from restate.serde import Serde

from resilient_agents.errors import InvalidInputError, TerminalAgentError

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


def error_for_status(status: int, message: str, headers: Mapping[str, str]) -> Exception:
    """Return the exception for a model server's HTTP error answer.

    Returns:
        A :class:`RetryableError` for 408/409/425/429 and 5xx (honouring ``retry-after``), a
        :class:`TerminalAgentError` for every other status.
    """
    text = f"model request failed with HTTP {status}: {message}"
    if status in _RETRYABLE_STATUS or status >= 500:
        return RetryableError(text, status_code=status, retry_after=_retry_after(headers))
    return TerminalAgentError(f"{text} (not retried: the same request would fail again)", status_code=status)


def classify_model_error(error: BaseException) -> BaseException:
    """Return the exception to raise from a journaled model step in place of ``error``.

    A failure the same request could survive (rate limits, overload, server errors, timeouts, broken
    connections, garbled bodies) becomes a :class:`RetryableError`; one it can never survive (bad request,
    authentication, unknown model) a :class:`TerminalAgentError`. Restate's own errors and unknown
    failures are returned as they are (Restate retries the unknown ones).
    """
    if isinstance(error, restate.TerminalError | RetryableError):
        return error
    if isinstance(error, openai.APIStatusError):
        return error_for_status(error.status_code, error.message, error.response.headers)
    if isinstance(error, openai.APIConnectionError | httpx.TransportError):  # Includes timeouts.
        return RetryableError(f"model server unreachable: {error!r}", status_code=503)
    if isinstance(error, openai.APIResponseValidationError | ValueError):  # Garbled or truncated body.
        return RetryableError(f"model server sent an unreadable answer: {error!r}", status_code=502)
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
