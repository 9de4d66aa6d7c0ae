"""Durable agents on the OpenAI Agents SDK.

Keep your ``agents.Agent``, its tools and handoffs; run it with :meth:`DurableRunner.run` inside a Restate
handler (or serve it with :func:`agent_service`). Every model call is journaled, :func:`durable_tool`
journals a tool's result, and tools reach the handler's context through :func:`durable_context`.
"""

from __future__ import annotations

from resilient_agents import _extras

# The Agents SDK is the `openai-agents` extra: say how to install it rather than fail deep inside a module.
if _extras.missing("agents"):
    raise _extras.missing_extra_error(__name__, extra="openai-agents", needs="the OpenAI Agents SDK")

from resilient_agents._history_window import HistoryLimit

from ._app import durable_app
from ._context import durable_context, durable_object_context
from ._runner import DurableRunner
from ._service import ServiceSettings, agent_service
from ._session import RestateSession
from ._session_object import session_object
from ._settings import DurableSettings, RetrySettings
from ._tools import durable_tool

__all__ = [
    "DurableRunner",
    "DurableSettings",
    "HistoryLimit",
    "RestateSession",
    "RetrySettings",
    "ServiceSettings",
    "agent_service",
    "durable_app",
    "durable_context",
    "durable_object_context",
    "durable_tool",
    "session_object",
]
