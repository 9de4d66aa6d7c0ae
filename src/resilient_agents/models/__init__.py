"""An OpenAI-compatible HTTP model server for offline use and tests.

:class:`ModelServer` serves the Responses, Chat Completions and Anthropic Messages APIs on
127.0.0.1 and answers every request through a :class:`Responder`: :class:`ScriptedModel` for tests (queued
replies and faults) or :class:`DemoModel`, the rule-based offline demo model (model name ``offline-demo``).

Example:
    >>> from openai import AsyncOpenAI
    >>> with ModelServer(ScriptedModel(Reply.say("hello"))) as srv:  # doctest: +SKIP
    ...     client = AsyncOpenAI(base_url=srv.base_url, api_key="unused")
"""

from __future__ import annotations

from resilient_agents.models.demo import DEMO_MODEL_NAME, DemoModel, DemoRule
from resilient_agents.models.reply import Fault, FaultKind, Reply, ToolCall
from resilient_agents.models.request import (
    ApiName,
    Message,
    ParsedRequest,
    RecordedRequest,
    Responder,
    Role,
    ToolSpec,
)
from resilient_agents.models.scripted import ScriptedModel, ScriptItem
from resilient_agents.models.server import ModelServer

__all__ = [
    "DEMO_MODEL_NAME",
    "ApiName",
    "DemoModel",
    "DemoRule",
    "Fault",
    "FaultKind",
    "Message",
    "ModelServer",
    "ParsedRequest",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Role",
    "ScriptItem",
    "ScriptedModel",
    "ToolCall",
    "ToolSpec",
]
