"""Errors of the native loop, and sorting model-call failures into "retry later" and "give up now".

Private module; the rules live in :mod:`resilient_agents._durable`, shared with the Agents SDK path: a
failure the same request could survive (rate limits, overload, server errors, timeouts, broken
connections, garbled bodies) becomes a :class:`restate.exceptions.RetryableError`, which Restate retries
with backoff (honouring ``retry-after``); one it can never survive (bad request, authentication, unknown
model) becomes a :class:`TerminalAgentError`.
"""

from __future__ import annotations

from resilient_agents._durable import classify_model_error as classify_client_error
from resilient_agents._durable import error_for_status
from resilient_agents.errors import TerminalAgentError

__all__ = ["MaxTurnsExceededError", "classify_client_error", "error_for_status"]


class MaxTurnsExceededError(TerminalAgentError):
    """A turn needed more model calls than :attr:`LoopSettings.max_turns` allows."""
