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

__all__ = ["MaxTurnsExceededError", "ModelAnswerError", "classify_client_error", "error_for_status"]


class MaxTurnsExceededError(TerminalAgentError):
    """A turn needed more model calls than :attr:`LoopSettings.max_turns` allows."""


class ModelAnswerError(TerminalAgentError):
    """The model server answered, but not in the shape of the API the client speaks (no ``output`` list, no
    ``choices``, no ``content`` blocks). The same request would get the same answer, so it is not retried; the
    usual cause is a base URL or ``api`` setting that points the client at the wrong server or API.
    """

    def __init__(self, api: str, problem: str) -> None:
        super().__init__(
            f"the model server's answer is not a valid {api} answer: {problem} (not retried; check the base URL "
            "and that the client speaks the API the server offers)",
            status_code=502,
        )
