"""Sorting model-call failures into "retry later" and "give up now".

Private module. The rule: a failure that the same request could survive (rate limits, overload, server
errors, timeouts, broken connections, garbled bodies) is retried by Restate with backoff; a failure the
same request can never survive (bad request, authentication, permission, unknown model, SDK usage
errors) becomes a terminal error that fails the invocation at once.
"""

from __future__ import annotations

from datetime import timedelta

import openai
import restate
from agents.exceptions import ModelBehaviorError, UserError
from restate.exceptions import RetryableError

from resilient_agents.errors import TerminalAgentError

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
_MAX_RETRY_AFTER = timedelta(minutes=5)


def classify_model_error(error: BaseException) -> BaseException:
    """Return the exception to raise from a journaled model step in place of ``error``.

    Args:
        error: What the model client raised.

    Returns:
        A :class:`RetryableError` (honouring ``retry-after``) or a
        :class:`~resilient_agents.errors.TerminalAgentError`, or ``error`` itself when it is already
        one of Restate's own errors or an unknown failure (which Restate retries).
    """
    if isinstance(error, restate.TerminalError | RetryableError):
        return error
    if isinstance(error, openai.APIStatusError):
        return _from_status_error(error)
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return RetryableError(f"model server unreachable: {error}", status_code=503)
    if isinstance(error, UserError | ModelBehaviorError):
        return TerminalAgentError(f"{type(error).__name__}: {error}")
    return error


def _from_status_error(error: openai.APIStatusError) -> BaseException:
    status = error.status_code
    message = f"model request failed with HTTP {status}: {error.message}"
    if status in _RETRYABLE_STATUS or status >= 500:
        return RetryableError(message, status_code=status, retry_after=_retry_after(error))
    return TerminalAgentError(f"{message} (not retried: the same request would fail again)", status_code=status)


def _retry_after(error: openai.APIStatusError) -> timedelta | None:
    header = error.response.headers.get("retry-after")
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None  # An HTTP date; the engine's backoff is good enough then.
    return min(timedelta(seconds=max(seconds, 0.0)), _MAX_RETRY_AFTER)
