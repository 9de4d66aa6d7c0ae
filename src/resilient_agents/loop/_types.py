"""The neutral, versioned types that cross into the journal and into session state. Private module.

Model clients convert their wire formats to and from these types at the border, so the journal and the
Virtual Object state never hold SDK objects: a ``llm: <agent> #<n>`` step stores a :class:`ModelTurn`, and a
session stores a :class:`SessionHead` plus its history in chunks (schema version 2; version 1 stored a whole
:class:`SessionSnapshot`, which is still read and is what the ``history`` handler answers). Bump a
``schema_version`` (and keep reading the old one) when a shape changes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from resilient_agents._chunked_state import ChunkIndex

MODEL_TURN_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`ModelTurn`."""

SESSION_SCHEMA_VERSION: Literal[1] = 1
"""Version of :class:`SessionSnapshot` (and the :class:`ChatMessage` items in its history)."""

SESSION_HEAD_SCHEMA_VERSION: Literal[2] = 2
"""Version of the stored session: a :class:`SessionHead` plus the history in chunks."""


class ToolCallRequest(BaseModel):
    """One tool call a model asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call_id: str
    """The provider's id of the call; the tool's result is sent back under it."""
    name: str
    """The tool's name."""
    arguments: str = "{}"
    """The arguments exactly as the model wrote them: a JSON string (validated only when the tool runs)."""


class ModelTurn(BaseModel):
    """One model response, as journaled under ``llm: <agent> #<n>``: text and/or tool calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = MODEL_TURN_SCHEMA_VERSION
    """Schema version of this record."""
    text: str | None = None
    """The assistant's text, or ``None`` when it only called tools."""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    """The tool calls, in the order the model listed them."""
    model: str | None = None
    """The model name the provider reported."""
    input_tokens: int | None = None
    """Prompt tokens, when the provider reported them."""
    output_tokens: int | None = None
    """Completion tokens, when the provider reported them."""


Role = Literal["user", "assistant", "tool"]
"""The role of a :class:`ChatMessage`."""


class ChatMessage(BaseModel):
    """One item of a session's history, independent of any provider's wire format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    """``user``, ``assistant`` or ``tool`` (the output of one tool call)."""
    text: str = ""
    """The text; for ``tool`` messages the tool's output."""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    """For ``assistant`` messages: the tool calls it made."""
    call_id: str | None = None
    """For ``tool`` messages: the id of the call this is the output of."""
    tool_name: str | None = None
    """For ``tool`` messages: the called tool's name."""
    agent: str | None = None
    """For ``assistant`` and ``tool`` messages: the agent that was answering."""


class ToolDefinition(BaseModel):
    """A tool as offered to the model: name, description and the JSON schema of its arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The tool's name."""
    description: str = ""
    """What the tool does, for the model."""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON schema of the arguments (an object schema)."""


class SessionSnapshot(BaseModel):
    """A session's state: its history and the agent that answers next.

    What the ``history`` handler answers; schema version 1 also stored it as it is (every message inline).
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SESSION_SCHEMA_VERSION
    """Schema version of this record."""
    current_agent: str
    """Name of the agent that answers the next message (changes on handoffs)."""
    history: list[ChatMessage] = Field(default_factory=list)
    """The conversation, oldest first."""
    turn_running: bool = False
    """Whether a turn was in progress when this snapshot was written."""


class SessionHead(BaseModel):
    """The head record of a stored session (schema version 2): the agent that answers next, whether a turn runs,
    and where the history's chunks are (``session:items:<n>``, one per turn). Small and of constant size."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = SESSION_HEAD_SCHEMA_VERSION
    """Schema version of this record."""
    current_agent: str
    """Name of the agent that answers the next message (changes on handoffs)."""
    turn_running: bool = False
    """Whether a turn was in progress when this record was written."""
    log: ChunkIndex = Field(default_factory=ChunkIndex)
    """Where the history's messages are (JSON of :class:`ChatMessage`) and how many."""


class Reminder(BaseModel):
    """The input of a session's ``remind`` handler: a reminder (or any notice) to add to the conversation."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="What to remind the customer of, in plain words.")
    """What to remind the customer of; stored in the history as ``Reminder: <text>``."""
