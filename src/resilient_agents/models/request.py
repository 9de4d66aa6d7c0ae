"""What a responder sees: an API-neutral :class:`ParsedRequest`, and the :class:`Responder` protocol.

The server converts a Responses, Chat Completions or Anthropic Messages request body into one
:class:`ParsedRequest`, so a responder works the same whichever API the client used. The server also keeps a
log of :class:`RecordedRequest` entries (with credentials removed) for tests to inspect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from resilient_agents.models.reply import Fault, Reply, ToolCall

ApiName = Literal["responses", "chat", "anthropic"]
"""Which wire API a request came in on."""

Role = Literal["user", "assistant", "system", "tool"]
"""The role of a :class:`Message`."""


@dataclass(frozen=True)
class Message:
    """One item of the conversation, whatever API it came from.

    Attributes:
        role: ``user``, ``assistant``, ``system`` or ``tool`` (a tool call's output).
        text: The text (for ``tool`` messages: the tool's output); ``""`` when there is none.
        tool_calls: The tool calls an ``assistant`` message made.
        call_id: For ``tool`` messages, the id of the call this is the output of.
        tool_name: For ``tool`` messages, the called tool's name when an earlier call with that id is known.
    """

    role: Role
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    call_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    """A function tool offered to the model.

    Attributes:
        name: The tool's name.
        description: What the tool does; ``""`` when not given.
        parameters: The JSON schema of the tool's arguments.
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        """The schema's ``properties`` (only those described by a JSON object)."""
        props = self.parameters.get("properties")
        if not isinstance(props, dict):
            return {}
        return {str(name): schema for name, schema in props.items() if isinstance(schema, dict)}

    @property
    def required(self) -> tuple[str, ...]:
        """The names of the required arguments, in schema order."""
        names = self.parameters.get("required")
        if not isinstance(names, list):
            return ()
        return tuple(str(name) for name in names)


@dataclass(frozen=True)
class ParsedRequest:
    """The API-neutral view of a model request.

    Attributes:
        api: Which API the request came in on.
        model: The requested model name (``""`` when absent).
        instructions: The system prompt: Responses ``instructions``, Chat Completions leading
            system/developer messages, or Anthropic ``system``.
        messages: The conversation, oldest first.
        tools: The function tools offered.
        raw: The request body as received.
    """

    api: ApiName
    model: str
    instructions: str | None
    messages: list[Message]
    tools: list[ToolSpec]
    raw: dict[str, Any]

    def tool(self, name: str) -> ToolSpec | None:
        """Find an offered tool by name.

        Args:
            name: The tool's name.

        Returns:
            The tool, or ``None`` when the request does not offer it.
        """
        return next((spec for spec in self.tools if spec.name == name), None)

    def user_texts(self) -> Iterator[str]:
        """Iterate over the non-empty user message texts, newest first.

        Yields:
            Each user message's text.
        """
        for message in reversed(self.messages):
            if message.role == "user" and message.text:
                yield message.text

    @property
    def last_user_text(self) -> str | None:
        """The newest user message's text, or ``None`` when there is none."""
        return next(self.user_texts(), None)

    def trailing_tool_outputs(self) -> list[Message]:
        """The ``tool`` messages at the very end of the conversation, oldest first.

        Returns:
            The outputs of the tool calls the model made last, or ``[]`` when the conversation does not end
            with tool outputs.
        """
        outputs: list[Message] = []
        for message in reversed(self.messages):
            if message.role != "tool":
                break
            outputs.append(message)
        outputs.reverse()
        return outputs


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as kept in :attr:`ModelServer.requests`.

    Attributes:
        api: Which API the request came in on.
        path: The request path, e.g. ``/v1/responses``.
        body: The JSON body as received.
        headers: The request headers (lower-case names) without credentials (``authorization``,
            ``x-api-key`` and similar are removed).
        index: The request's position in the log, from 0.
    """

    api: ApiName
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    index: int


@runtime_checkable
class Responder(Protocol):
    """Decides what the server answers to each model request. Called from server threads."""

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        """Answer one request.

        Args:
            request: The parsed request.

        Returns:
            The reply to render, or a fault to produce.
        """
        ...
