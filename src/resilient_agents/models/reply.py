"""What a responder answers: a neutral :class:`Reply` (text and/or tool calls) or a :class:`Fault`.

The server renders a :class:`Reply` into the wire format of whichever API was called (Responses, Chat
Completions or Anthropic Messages), so responders never deal with wire formats. A :class:`Fault` makes the
server misbehave on purpose (rate limit, server error, hang, malformed body) to exercise client retry and
timeout handling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["rate_limit", "server_error", "hang", "malformed"]
"""The kinds of :class:`Fault` the server can produce."""


@dataclass(frozen=True)
class ToolCall:
    """One tool (function) call the model asks the caller to run.

    Attributes:
        name: The tool's name, as listed in the request's tools.
        arguments: The arguments, as a dict or as an already-encoded JSON string.
        call_id: The call id; the server generates one (``call_0001``...) when it is ``None``.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments encoded as a JSON string (a string argument is returned unchanged)."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    @property
    def arguments_dict(self) -> dict[str, Any]:
        """The arguments as a dict; a string that is not a JSON object gives ``{}``."""
        if isinstance(self.arguments, dict):
            return dict(self.arguments)
        try:
            decoded = json.loads(self.arguments)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}


@dataclass(frozen=True)
class Reply:
    """An API-neutral model answer: some text, some tool calls, or both.

    Attributes:
        text: The assistant's text, or ``None`` for a reply that only calls tools.
        tool_calls: The tool calls, in order.
        model: The model name reported in the response; ``None`` echoes the requested model.
        hold: For a streamed answer (``"stream": true``): called in the server's thread once the first text
            delta has been sent; the rest of the stream waits until it returns. Tests hold a reply mid-stream
            with it (``hold=release.wait``). Ignored for answers that are not streamed.
        input_tokens: The prompt tokens reported in the response's usage; ``None`` estimates them from the
            request's text (about four characters a token).
        output_tokens: The completion tokens reported; ``None`` estimates them from the reply's text.
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    model: str | None = None
    hold: Callable[[], object] | None = field(default=None, compare=False, repr=False)
    input_tokens: int | None = None
    output_tokens: int | None = None

    @classmethod
    def say(cls, text: str) -> Reply:
        """Build a plain text reply.

        Args:
            text: What the assistant says.

        Returns:
            A reply with only text.
        """
        return cls(text=text)

    @classmethod
    def call(cls, name: str, /, **arguments: Any) -> Reply:
        """Build a reply that calls one tool.

        Args:
            name: The tool's name.
            **arguments: The tool's arguments.

        Returns:
            A reply with a single tool call.
        """
        return cls(tool_calls=(ToolCall(name=name, arguments=dict(arguments)),))

    @classmethod
    def calls(cls, *tool_calls: ToolCall) -> Reply:
        """Build a reply that calls several tools at once (parallel tool calls).

        Args:
            *tool_calls: The tool calls, in order.

        Returns:
            A reply with those tool calls.
        """
        return cls(tool_calls=tuple(tool_calls))


@dataclass(frozen=True)
class Fault:
    """A failure the server produces instead of a reply. Build one with the classmethods.

    Attributes:
        kind: Which failure.
        status: The HTTP status sent (200 for ``malformed``).
        message: The error message put in the error body.
        retry_after: Seconds sent in the ``retry-after`` header (rate limits only).
        delay: Seconds the server waits before answering (hangs only).
    """

    kind: FaultKind
    status: int
    message: str
    retry_after: float | None = None
    delay: float = 0.0

    @classmethod
    def rate_limit(cls, retry_after: float = 1.0) -> Fault:
        """HTTP 429 with a ``retry-after`` header and an OpenAI-style error body.

        Args:
            retry_after: Seconds the client is told to wait before retrying.

        Returns:
            The fault.
        """
        message = f"Rate limit reached for the offline model; retry after {retry_after:g} seconds."
        return cls(kind="rate_limit", status=429, message=message, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, message: str | None = None) -> Fault:
        """An HTTP 5xx answer with an error body.

        Args:
            status: The HTTP status, 500 to 599.
            message: The error message; a generic one when ``None``.

        Returns:
            The fault.

        Raises:
            ValueError: If ``status`` is not a 5xx status.
        """
        if not 500 <= status <= 599:
            raise ValueError(f"server_error status must be 500-599, got {status}")
        text = message if message is not None else f"The offline model failed on purpose (HTTP {status})."
        return cls(kind="server_error", status=status, message=text)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering with HTTP 500, to exceed a client's timeout.

        The wait ends early when the server stops.

        Args:
            seconds: How long to wait.

        Returns:
            The fault.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError(f"hang seconds must be >= 0, got {seconds}")
        message = f"The offline model hung for {seconds:g} seconds on purpose."
        return cls(kind="hang", status=500, message=message, delay=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """HTTP 200 with a truncated, non-parseable JSON body.

        Returns:
            The fault.
        """
        return cls(kind="malformed", status=200, message="The offline model sent a truncated body on purpose.")
