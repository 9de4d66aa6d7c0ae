"""Convert Responses, Chat Completions and Anthropic Messages request bodies into a :class:`ParsedRequest`.

The converters are lenient: items they do not understand (images, reasoning items, hosted tools) are skipped.
Only a body whose overall shape is wrong (e.g. ``messages`` is not a list) raises :class:`BadRequestError`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from resilient_agents.models.reply import ToolCall
from resilient_agents.models.request import ApiName, Message, ParsedRequest, Role, ToolSpec

_TEXT_PART_KEYS = ("text", "refusal")
_SYSTEM_ROLES = frozenset({"system", "developer"})


class BadRequestError(ValueError):
    """A request body does not have the shape its API requires."""


class _Conversation:
    """Builds the neutral message list, merging an assistant's text and tool calls into one message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def add_text(self, role: Role, text: str) -> None:
        self.messages.append(Message(role=role, text=text))

    def add_tool_call(self, call: ToolCall) -> None:
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "assistant":
            self.messages[-1] = dataclasses.replace(last, tool_calls=(*last.tool_calls, call))
        else:
            self.messages.append(Message(role="assistant", tool_calls=(call,)))

    def add_tool_output(self, call_id: str | None, text: str, tool_name: str | None = None) -> None:
        self.messages.append(Message(role="tool", text=text, call_id=call_id, tool_name=tool_name))

    def finish(self) -> list[Message]:
        """Return the messages, with each tool output's ``tool_name`` resolved from its call id."""
        names: dict[str, str] = {}
        resolved: list[Message] = []
        for message in self.messages:
            names.update({call.call_id: call.name for call in message.tool_calls if call.call_id})
            if message.role == "tool" and message.tool_name is None and message.call_id in names:
                message = dataclasses.replace(message, tool_name=names[message.call_id])
            resolved.append(message)
        return resolved


def parse_request(api: ApiName, body: dict[str, Any]) -> ParsedRequest:
    """Convert a request body of the given API into the neutral view.

    Args:
        api: Which API the body belongs to.
        body: The decoded JSON body.

    Returns:
        The parsed request.

    Raises:
        BadRequestError: If the body's shape is wrong for the API.
    """
    parser = _PARSERS[api]
    instructions, conversation, tools = parser(body)
    model = body.get("model")
    return ParsedRequest(
        api=api,
        model=model if isinstance(model, str) else "",
        instructions=instructions,
        messages=conversation.finish(),
        tools=tools,
        raw=body,
    )


def content_text(content: Any) -> str:
    """Extract the text of a message's content, whatever its shape.

    Args:
        content: A string, a list of content parts, or a single part.

    Returns:
        The text parts joined with newlines; ``""`` when there is no text.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return next((content[key] for key in _TEXT_PART_KEYS if isinstance(content.get(key), str)), "")
    if isinstance(content, list):
        return "\n".join(text for text in (content_text(part) for part in content) if text)
    return ""


def decode_arguments(value: Any) -> dict[str, Any] | str:
    """Decode tool-call arguments: a JSON object string becomes a dict, anything else stays a string.

    Args:
        value: The arguments as received (a JSON string or an object).

    Returns:
        The arguments as a dict when possible, otherwise as a string.
    """
    if isinstance(value, dict):
        return dict(value)
    if not isinstance(value, str):
        return ""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, dict) else value


def _role(value: Any) -> Role:
    if value in _SYSTEM_ROLES:
        return "system"
    return "assistant" if value == "assistant" else "user"


def _require_list(body: dict[str, Any], key: str, *, required: bool = False) -> list[Any]:
    value = body.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise BadRequestError(f"'{key}' must be a list")
    return value


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tool_spec(name: Any, description: Any, parameters: Any) -> ToolSpec | None:
    if not isinstance(name, str) or not name:
        return None
    return ToolSpec(
        name=name,
        description=description if isinstance(description, str) else "",
        parameters=dict(parameters) if isinstance(parameters, dict) else {},
    )


def _collect_tools(items: list[Any], convert: Callable[[dict[str, Any]], ToolSpec | None]) -> list[ToolSpec]:
    specs = (convert(item) for item in items if isinstance(item, dict))
    return [spec for spec in specs if spec is not None]


# --- Responses API -------------------------------------------------------------------------------------------


def _parse_responses(body: dict[str, Any]) -> tuple[str | None, _Conversation, list[ToolSpec]]:
    conversation = _Conversation()
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        conversation.add_text("user", raw_input)
    elif isinstance(raw_input, list):
        for item in raw_input:
            if isinstance(item, dict):
                _add_responses_item(conversation, item)
    elif raw_input is not None:
        raise BadRequestError("'input' must be a string or a list of input items")
    instructions = body.get("instructions")
    text = content_text(instructions) if instructions is not None else None
    tools = _collect_tools(_require_list(body, "tools"), _responses_tool)
    return text, conversation, tools


def _add_responses_item(conversation: _Conversation, item: dict[str, Any]) -> None:
    kind = item.get("type")
    if kind == "function_call":
        call_id = _optional_str(item.get("call_id"))
        name = str(item.get("name", ""))
        conversation.add_tool_call(
            ToolCall(name=name, arguments=decode_arguments(item.get("arguments")), call_id=call_id)
        )
    elif kind == "function_call_output":
        conversation.add_tool_output(_optional_str(item.get("call_id")), content_text(item.get("output")))
    elif kind in (None, "message") and "role" in item:
        conversation.add_text(_role(item.get("role")), content_text(item.get("content")))


def _responses_tool(item: dict[str, Any]) -> ToolSpec | None:
    if item.get("type") != "function":
        return None
    return _tool_spec(item.get("name"), item.get("description"), item.get("parameters"))


# --- Chat Completions API ------------------------------------------------------------------------------------


def _parse_chat(body: dict[str, Any]) -> tuple[str | None, _Conversation, list[ToolSpec]]:
    conversation = _Conversation()
    system_texts: list[str] = []
    for item in _require_list(body, "messages", required=True):
        if not isinstance(item, dict):
            raise BadRequestError("each item of 'messages' must be an object")
        if item.get("role") in _SYSTEM_ROLES and not conversation.messages:
            system_texts.append(content_text(item.get("content")))
        else:
            _add_chat_message(conversation, item)
    tools = _collect_tools(_require_list(body, "tools"), _chat_tool)
    tools += _collect_tools(_require_list(body, "functions"), _chat_function)
    instructions = "\n\n".join(text for text in system_texts if text) if system_texts else None
    return instructions, conversation, tools


def _add_chat_message(conversation: _Conversation, item: dict[str, Any]) -> None:
    role = item.get("role")
    text = content_text(item.get("content"))
    if role == "tool":
        conversation.add_tool_output(_optional_str(item.get("tool_call_id")), text)
    elif role == "function":
        conversation.add_tool_output(None, text, tool_name=_optional_str(item.get("name")))
    elif role == "assistant":
        _add_chat_assistant(conversation, item, text)
    else:
        conversation.add_text(_role(role), text)


def _add_chat_assistant(conversation: _Conversation, item: dict[str, Any], text: str) -> None:
    conversation.add_text("assistant", text)
    raw_calls = item.get("tool_calls")
    for raw in raw_calls if isinstance(raw_calls, list) else []:
        function = raw.get("function") if isinstance(raw, dict) else None
        if isinstance(function, dict):
            call_id = _optional_str(raw.get("id"))
            arguments = decode_arguments(function.get("arguments"))
            conversation.add_tool_call(
                ToolCall(name=str(function.get("name", "")), arguments=arguments, call_id=call_id)
            )
    legacy = item.get("function_call")
    if isinstance(legacy, dict):
        arguments = decode_arguments(legacy.get("arguments"))
        conversation.add_tool_call(ToolCall(name=str(legacy.get("name", "")), arguments=arguments))


def _chat_tool(item: dict[str, Any]) -> ToolSpec | None:
    function = item.get("function")
    if item.get("type", "function") != "function" or not isinstance(function, dict):
        return None
    return _chat_function(function)


def _chat_function(function: dict[str, Any]) -> ToolSpec | None:
    return _tool_spec(function.get("name"), function.get("description"), function.get("parameters"))


# --- Anthropic Messages API ----------------------------------------------------------------------------------


def _parse_anthropic(body: dict[str, Any]) -> tuple[str | None, _Conversation, list[ToolSpec]]:
    conversation = _Conversation()
    for item in _require_list(body, "messages", required=True):
        if not isinstance(item, dict):
            raise BadRequestError("each item of 'messages' must be an object")
        _add_anthropic_message(conversation, item)
    system = body.get("system")
    instructions = content_text(system) if system is not None else None
    tools = _collect_tools(_require_list(body, "tools"), _anthropic_tool)
    return instructions, conversation, tools


def _add_anthropic_message(conversation: _Conversation, item: dict[str, Any]) -> None:
    role: Role = "assistant" if item.get("role") == "assistant" else "user"
    content = item.get("content")
    if not isinstance(content, list):
        conversation.add_text(role, content_text(content))
        return
    blocks = [block for block in content if isinstance(block, dict)]
    for block in blocks:
        if block.get("type") == "tool_result":
            conversation.add_tool_output(_optional_str(block.get("tool_use_id")), content_text(block.get("content")))
    texts = [block["text"] for block in blocks if block.get("type") == "text" and isinstance(block.get("text"), str)]
    if texts or role == "assistant":
        conversation.add_text(role, "\n".join(texts))
    for block in blocks:
        if block.get("type") == "tool_use":
            call_id = _optional_str(block.get("id"))
            arguments = decode_arguments(block.get("input"))
            conversation.add_tool_call(ToolCall(name=str(block.get("name", "")), arguments=arguments, call_id=call_id))


def _anthropic_tool(item: dict[str, Any]) -> ToolSpec | None:
    if item.get("type") not in (None, "custom"):
        return None
    return _tool_spec(item.get("name"), item.get("description"), item.get("input_schema"))


_PARSERS: dict[ApiName, Callable[[dict[str, Any]], tuple[str | None, _Conversation, list[ToolSpec]]]] = {
    "responses": _parse_responses,
    "chat": _parse_chat,
    "anthropic": _parse_anthropic,
}
