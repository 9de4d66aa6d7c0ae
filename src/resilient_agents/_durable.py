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
from urllib.parse import urlsplit

import httpx
import openai
import restate
from pydantic import TypeAdapter
from restate.exceptions import RetryableError
from restate.serde import Serde

from resilient_agents.config import NO_KEY
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


def error_for_status(status: int, message: str, headers: Mapping[str, str], host: str = "", url: str = "") -> Exception:
    """Return the exception for a model server's HTTP error answer.

    How restate-sdk 1.3.0 paces retries of a failing ``ctx.run`` step (read in its ``server_context.py``):
    a :class:`RetryableError` is retried after its ``retry_after`` or, without one, on the *invocation's*
    retry policy (for our services 100 ms doubling to 500 ms), ignoring the step's intervals; any other
    exception is retried with the step's own exponential backoff (:class:`RetrySettings`). Both respect
    the step's ``max_attempts`` and ``max_duration``. So a ``RetryableError`` is used only to carry a
    ``retry-after``; every other transient failure is a :class:`ModelUnavailableError`.

    Args:
        status: The HTTP status.
        message: The server's error message.
        headers: The answer's headers (for ``retry-after``).
        host: The model server's host, named in the message.
        url: The requested URL, named in the message (a 404 also gets a hint about the base URL).

    Returns:
        For 408/409/425/429 and 5xx a :class:`RetryableError` when the server sent ``retry-after``, else a
        :class:`ModelUnavailableError`; a :class:`TerminalAgentError` with HTTP status 502 (the upstream model
        server refused; the message names its status) for every other status (a 404 too: a wrong base URL or
        an unknown model name is not fixed by waiting).
    """
    text = f"model request{_where(host, url)} failed with HTTP {status}: {message}"
    if status in _RETRYABLE_STATUS or status >= 500:
        retry_after = _retry_after(headers)
        if retry_after is not None:
            return RetryableError(text, status_code=status, retry_after=retry_after)
        return ModelUnavailableError(text)
    if status == 404:
        text = f"{text.rstrip('. ')}. {not_found_hint(url)}"
    elif status in (401, 403):
        text = (
            f"{text.rstrip('. ')}. Check the API key (OPENAI_API_KEY / ANTHROPIC_API_KEY): the server refused it "
            f"(a base URL set without a key sends the placeholder {NO_KEY!r})"
        )
    # 502: the model server (upstream) refused; its own status (a 404, a 401) would read as the caller's mistake.
    return TerminalAgentError(f"{text} (not retried: the same request would fail again)", status_code=502)


def not_found_hint(url: str) -> str:
    """What to check when a model server answers 404 to a request for ``url``."""
    split = urlsplit(url)
    path = split.path.rstrip("/")
    if path.endswith("/messages"):
        root = f"{split.scheme}://{split.netloc}{path[: -len('/v1/messages')]}"
        return (
            f"Check ANTHROPIC_BASE_URL (now {root!r}): give the server's root URL, e.g. https://api.anthropic.com "
            "(the client adds /v1/messages); or the server does not know the model name (RESILIENT_AGENTS_MODEL)"
        )
    endpoint = next((name for name in _OPENAI_ENDPOINTS if path.endswith(name)), None)
    if endpoint is not None and not path[: -len(endpoint)].endswith("/v1"):
        base = f"{split.scheme}://{split.netloc}{path[: -len(endpoint)]}"
        return (
            f"The base URL {base!r} does not end in /v1: an OpenAI-compatible server's base URL usually does, "
            f"e.g. OPENAI_BASE_URL={base + '/v1'!r}"
        )
    return (
        "Check the base URL (OPENAI_BASE_URL of an OpenAI-compatible server usually ends in /v1, e.g. "
        "http://localhost:11434/v1; ANTHROPIC_BASE_URL is the server's root, without /v1), the wire API "
        "(RESILIENT_AGENTS_API / --api: the server may not offer this one), and that the server knows the model "
        "name (RESILIENT_AGENTS_MODEL / --model)"
    )


def classify_model_error(error: BaseException, host: str = "") -> BaseException:
    """Return the exception to raise from a journaled model step in place of ``error``.

    A failure the same request could survive (rate limits, overload, server errors, timeouts, broken
    connections, garbled bodies) becomes a :class:`ModelUnavailableError` (or a :class:`RetryableError`
    carrying the server's ``retry-after``, see :func:`error_for_status`); one it can never survive (bad
    request, authentication, unknown model or path, an answer that fails validation, a bug raising
    ``TypeError``) a :class:`TerminalAgentError`. Restate's own errors and other failures are returned as they
    are (retried with the step's backoff until its retry window ends). The messages name the model server's
    host and the requested URL (read from the error when it carries its request).

    Args:
        error: What the model client raised.
        host: The model server's host, named in the messages.
    """
    url = _request_url(error)
    where = _where(host, url)
    if isinstance(error, restate.TerminalError | RetryableError | ModelUnavailableError):
        return error
    if isinstance(error, openai.APIStatusError):
        return error_for_status(error.status_code, error.message, error.response.headers, host, url)
    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException):
        return ModelUnavailableError(
            f"model request{where} timed out ({_cause(error)}); retried with backoff. A slow model may need a "
            "longer RESILIENT_AGENTS_MODEL_TIMEOUT"
        )
    if isinstance(error, openai.APIConnectionError | httpx.TransportError):
        return ModelUnavailableError(
            f"model server unreachable: request{where} failed ({_cause(error)}); retried with backoff. Is the "
            "server running, and is its base URL right (OPENAI_BASE_URL / ANTHROPIC_BASE_URL)?"
        )
    if isinstance(error, openai.APIResponseValidationError | json.JSONDecodeError):  # Garbled or truncated.
        return ModelUnavailableError(f"model server sent an unreadable answer to the request{where}: {error!r}")
    if isinstance(error, ValueError | TypeError | AttributeError | KeyError):  # Validation errors and bugs.
        return TerminalAgentError(
            f"model request{where or ' to the model server'} failed with {error!r}; the same request would fail "
            "again (a schema or validation problem, or a bug), so it is not retried"
        )
    return error


_OPENAI_ENDPOINTS = ("/responses", "/chat/completions", "/completions", "/embeddings")


def _where(host: str, url: str) -> str:
    """`` to <url>`` (and the host when the URL does not name it), or `` to <host>``, or nothing."""
    if url and host and host not in url:
        return f" to {host} ({url})"
    if url or host:
        return f" to {url or host}"
    return ""


def _request_url(error: BaseException) -> str:
    """The URL of the request that failed, when the error carries it (openai and httpx errors do)."""
    try:
        request = getattr(error, "request", None)
    except RuntimeError:  # httpx raises when an error was built without its request.
        return ""
    url = getattr(request, "url", None)
    return str(url) if url is not None else ""


def _cause(error: BaseException) -> str:
    """``repr`` of what went wrong: for openai's generic ``Connection error.``, the httpx error it wraps."""
    cause = error.__cause__
    if isinstance(error, openai.APIConnectionError) and isinstance(cause, Exception):
        return repr(cause)
    return repr(error)


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
