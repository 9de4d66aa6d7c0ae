"""The exceptions raised by resilient-agents.

Every error we raise derives from :class:`ResilientAgentsError`. Errors that are raised inside a Restate
handler and must *not* be retried by the engine also derive from :class:`restate.TerminalError` (see
:class:`TerminalAgentError`); every other exception that leaves a handler is retried by Restate with the
service's retry policy.
"""

from __future__ import annotations

import typing as _typing

if _typing.TYPE_CHECKING:
    from resilient_agents._terminal import InvalidInputError, TerminalAgentError

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


def __getattr__(name: str) -> _typing.Any:
    # TerminalAgentError derives from restate.TerminalError. It is defined on first use, so that importing these
    # errors (and the CLI, which starts on every command) does not import the Restate SDK and hypercorn.
    if name in ("TerminalAgentError", "InvalidInputError"):
        from resilient_agents import _terminal

        return getattr(_terminal, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *("TerminalAgentError", "InvalidInputError")])
