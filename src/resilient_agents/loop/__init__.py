"""A native durable agent loop written directly on Restate (no Agents SDK in the loop).

Define :class:`LoopAgent` s with tools and handoffs, and serve them as a session (a Virtual Object keyed by
session id, :func:`loop_session_object`) or as a stateless agent (:func:`loop_agent_service`). Each turn is
one Restate invocation:

* every model call is a journaled step ``llm: <agent> #<n>`` holding a neutral, versioned :class:`ModelTurn`;
* every tool call is ONE durable action: a journaled step ``tool: <name>`` (:func:`loop_tool`), a durable call
  of a Service / Virtual Object / Workflow handler (:func:`service_tool`, :func:`object_tool`,
  :func:`workflow_tool`), a call to another agent (:func:`agent_tool`) or a delayed send
  (:func:`delayed_send_tool`). The tool calls of one model answer start in call order and run concurrently,
  and a replay meets the same journal entries in the same order. Multi-step tools belong in service handlers;
* handoffs switch the answering agent; a max-turns guard stops runaway loops;
* **poison pills never loop**: what the model sends (unknown tools, arguments that are not JSON or do not fit,
  numbers that overflow) goes back to it as the tool's ``error: ...`` output; a tool that fails the same way
  on every try (``TypeError``, ``ValueError``, ``OverflowError``...) is not retried; an answer the client
  cannot read as its API fails the turn terminally (:class:`ModelAnswerError`). Restate retries only transient
  failures, each within its :class:`StepRetry`, so no session waits behind a turn that cannot succeed;
* the history and the current agent live in the session object's state, readable by its shared ``history``
  handler while a turn runs;
* **interrupts**: a message sent to the session's shared ``interrupt`` handler cancels the running turn (the
  journal shows the cancellation; finished tool outputs are kept, unfinished calls get an "interrupted" output)
  and starts a new turn that sees both messages;
* **sagas**: a multi-step tool is a service handler that registers compensations with a :class:`Saga`; a
  terminal failure of a later step runs them in reverse, each once, and the tool's error tells the model what
  was undone;
* **reminders**: a :func:`delayed_send_tool` to the session's ``remind`` handler adds a :class:`Reminder` to
  the conversation later, even if the service restarted in between.

**Identity bound to the session**: :func:`object_tool` calls the Virtual Object with the SESSION's key. The key
is not part of the tool's schema, and arguments a tool does not declare are rejected, so the model cannot make
customer A's session read customer B's account, whatever the prompt says.

Model clients (:class:`OpenAIResponsesClient`, :class:`OpenAIChatClient`, :class:`AnthropicClient`) implement
the small :class:`ModelClient` protocol.
"""

from __future__ import annotations

from resilient_agents._history_window import HistoryLimit

from ._agent import LoopAgent
from ._anthropic_client import AnthropicClient
from ._client import ModelClient
from ._errors import MaxTurnsExceededError, ModelAnswerError
from ._openai_clients import OpenAIChatClient, OpenAIResponsesClient
from ._saga import CompensatedError, Saga
from ._serde import PydanticSerde
from ._service import loop_agent_service
from ._session import loop_session_object
from ._settings import LoopModelSettings, LoopSettings, StepRetry
from ._tools import (
    LoopToolContext,
    agent_tool,
    delayed_send_tool,
    loop_tool,
    object_tool,
    service_tool,
    unique_key,
    workflow_tool,
)
from ._types import (
    ChatMessage,
    ModelTurn,
    Reminder,
    SessionSnapshot,
    ToolCallRequest,
    ToolDefinition,
)

__all__ = [
    "AnthropicClient",
    "ChatMessage",
    "CompensatedError",
    "HistoryLimit",
    "LoopAgent",
    "LoopModelSettings",
    "LoopSettings",
    "LoopToolContext",
    "MaxTurnsExceededError",
    "ModelAnswerError",
    "ModelClient",
    "ModelTurn",
    "OpenAIChatClient",
    "OpenAIResponsesClient",
    "PydanticSerde",
    "Reminder",
    "Saga",
    "SessionSnapshot",
    "StepRetry",
    "ToolCallRequest",
    "ToolDefinition",
    "agent_tool",
    "delayed_send_tool",
    "loop_agent_service",
    "loop_session_object",
    "loop_tool",
    "object_tool",
    "service_tool",
    "unique_key",
    "workflow_tool",
]
