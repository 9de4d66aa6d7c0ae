"""Errors of the native loop, and sorting model-call failures into "retry later" and "give up now".

Private module. A failure that the same request could survive (rate limits, overload, server errors,
timeouts, broken connections, garbled bodies) becomes a :class:`restate.exceptions.RetryableError`, which
Restate retries with backoff (honouring ``retry-after``); a failure the same request can never survive
(bad request, authentication, unknown model) becomes a :class:`TerminalAgentError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import httpx
import openai
import restate
from restate.exceptions import RetryableError

from resilient_agents.errors import TerminalAgentError

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_MAX_RETRY_AFTER = timedelta(minutes=5)


class MaxTurnsExceededError(TerminalAgentError):
    """A turn needed more model calls than :attr:`LoopSettings.max_turns` allows."""


def error_for_status(status: int, message: str, headers: Mapping[str, str]) -> Exception:
    """Return the exception for a model server's HTTP error answer.

    Args:
        status: The HTTP status.
        message: What the server said.
        headers: The response headers (for ``retry-after``).

    Returns:
        A retryable error for 408/409/425/429 and 5xx, a terminal error for every other status.
    """
    text = f"model request failed with HTTP {status}: {message}"
    if status in _RETRYABLE_STATUS or status >= 500:
        return RetryableError(text, status_code=status, retry_after=_retry_after(headers))
    return TerminalAgentError(f"{text} (not retried: the same request would fail again)", status_code=status)


def classify_client_error(error: BaseException) -> BaseException:
    """Return the exception a model client raises in place of ``error``.

    Args:
        error: What the HTTP or OpenAI client raised.

    Returns:
        ``error`` itself when it is already one of Restate's errors or unknown (Restate retries those),
        otherwise a retryable or terminal error as described in the module docstring.
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
