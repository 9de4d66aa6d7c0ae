"""The exceptions raised by resilient-agents.

Every error we raise derives from :class:`ResilientAgentsError`. Errors that are raised inside a Restate
handler and must *not* be retried by the engine also derive from :class:`restate.TerminalError` (see
:class:`TerminalAgentError`); every other exception that leaves a handler is retried by Restate with the
service's retry policy.
"""

from __future__ import annotations

import restate

__all__ = [
    "ConfigurationError",
    "EngineError",
    "InvalidInputError",
    "ModelServerError",
    "ModelUnavailableError",
    "ResilientAgentsError",
    "TerminalAgentError",
]


class ResilientAgentsError(Exception):
    """Base class of every error raised by resilient-agents."""


class ConfigurationError(ResilientAgentsError):
    """A setting is missing or invalid. The message says which one and how to fix it."""


class EngineError(ResilientAgentsError):
    """The Restate engine could not be found, installed, started, reached or configured."""


class ModelServerError(ResilientAgentsError):
    """The offline model server could not start or was used incorrectly."""


class ModelUnavailableError(ResilientAgentsError):
    """A model call failed in a way the same request can survive later (overload, outage, broken connection).

    Raised inside a journaled model step, it is retried with the step's exponential backoff
    (:class:`resilient_agents.openai_agents.RetrySettings`); when the retry window is used up, the step
    fails terminally with this message, which names the model server's host.
    """


class TerminalAgentError(ResilientAgentsError, restate.TerminalError):
    """A failure that retrying cannot fix: Restate records it as the invocation's result and stops.

    Args:
        message: What went wrong, for the caller.
        status_code: The HTTP status the Restate ingress answers with (400 for bad input, 500 otherwise).
    """

    def __init__(self, message: str, status_code: int = 500) -> None:
        restate.TerminalError.__init__(self, message, status_code)


class InvalidInputError(TerminalAgentError):
    """The request to an agent handler was malformed (empty, not JSON, wrong type, too large)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=400)
