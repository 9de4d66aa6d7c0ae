"""Sorting model-call failures into "retry later" and "give up now" for the Agents SDK path.

Private module. The shared rules are in :mod:`resilient_agents._durable`; this adds the SDK's own usage
errors (a bad tool schema, a model that broke the protocol), which retrying cannot fix.
"""

from __future__ import annotations

from agents.exceptions import ModelBehaviorError, UserError

from resilient_agents._durable import classify_model_error as _classify_shared
from resilient_agents.errors import TerminalAgentError


def classify_model_error(error: BaseException, host: str = "") -> BaseException:
    """Return the exception to raise from a journaled model step in place of ``error``.

    Returns:
        A :class:`restate.exceptions.RetryableError` (honouring ``retry-after``) or a
        :class:`~resilient_agents.errors.TerminalAgentError`, or ``error`` itself when it is already one of
        Restate's own errors or an unknown failure (which Restate retries).
    """
    if isinstance(error, UserError | ModelBehaviorError):
        return TerminalAgentError(f"{type(error).__name__}: {error}")
    return _classify_shared(error, host)
