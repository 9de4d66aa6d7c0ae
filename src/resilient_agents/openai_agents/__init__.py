"""Durable agents on the OpenAI Agents SDK.

Keep your ``agents.Agent``, its tools and handoffs; run it with :meth:`DurableRunner.run` inside a Restate
handler (or serve it with :func:`agent_service`). Every model call is journaled, :func:`durable_tool`
journals a tool's result, and tools reach the handler's context through :func:`durable_context`.
"""

from __future__ import annotations

from ._app import durable_app
from ._context import durable_context, durable_object_context
from ._journal import JOURNAL_SCHEMA_VERSION, JournaledModelResponse, JournaledToolResult
from ._model import DurableModel, DurableModelProvider
from ._runner import DurableRunner
from ._service import DEFAULT_MAX_MESSAGE_CHARS, ServiceSettings, agent_service, fast_retry_policy, parse_message
from ._session import SESSION_SCHEMA_VERSION, RestateSession, SessionRecord, read_session_record
from ._session_object import session_object
from ._settings import DurableSettings, RetrySettings
from ._stream_client import follow_stream
from ._tools import durable_tool, is_durable_tool

__all__ = [
    "DEFAULT_MAX_MESSAGE_CHARS",
    "JOURNAL_SCHEMA_VERSION",
    "SESSION_SCHEMA_VERSION",
    "DurableModel",
    "DurableModelProvider",
    "DurableRunner",
    "DurableSettings",
    "JournaledModelResponse",
    "JournaledToolResult",
    "RestateSession",
    "RetrySettings",
    "ServiceSettings",
    "SessionRecord",
    "agent_service",
    "durable_app",
    "durable_context",
    "durable_object_context",
    "durable_tool",
    "fast_retry_policy",
    "follow_stream",
    "is_durable_tool",
    "parse_message",
    "read_session_record",
    "session_object",
]
