"""The errors that derive from ``restate.TerminalError``; import them from :mod:`resilient_agents.errors`.

Private module: :mod:`resilient_agents.errors` loads it on first use, so that importing the other errors does
not import the Restate SDK.
"""

from __future__ import annotations

import restate

from resilient_agents.errors import ResilientAgentsError

__all__ = ["InvalidInputError", "TerminalAgentError"]


class TerminalAgentError(ResilientAgentsError, restate.TerminalError):
    """A failure that retrying cannot fix: Restate records it as the invocation's result and stops.

    Args:
        message: What went wrong, for the caller.
        status_code: The HTTP status the Restate ingress answers with (400 for bad input, 500 otherwise).
    """

    __module__ = "resilient_agents.errors"  # Its public home: reprs, pickles and docs name it there.

    def __init__(self, message: str, status_code: int = 500) -> None:
        restate.TerminalError.__init__(self, message, status_code)


class InvalidInputError(TerminalAgentError):
    """The request to an agent handler was malformed (empty, not JSON, wrong type, too large)."""

    __module__ = "resilient_agents.errors"

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=400)
