"""Reading the user's message from a request body. Private module."""

from __future__ import annotations

import json
from typing import Any

from restate.serde import Serde

from resilient_agents.errors import InvalidInputError


class RawBytes(Serde[bytes]):
    """Hands the request body to the handler untouched, so the handler can reject bad input clearly."""

    def deserialize(self, buf: bytes) -> bytes | None:
        """Return the body as it is."""
        return bytes(buf)

    def serialize(self, obj: bytes | None) -> bytes:
        """Return the bytes as they are."""
        return obj or b""


def parse_user_message(body: bytes, max_chars: int, example_path: str) -> str:
    """Validate a request body holding one user message as a JSON string.

    Args:
        body: The raw request body.
        max_chars: The longest accepted message.
        example_path: The ingress path shown in the error's example (e.g. ``Session/alice/message``).

    Returns:
        The message.

    Raises:
        InvalidInputError: For an empty body, invalid JSON, JSON that is not a string, an empty message or one
            longer than ``max_chars``. It is terminal (HTTP 400): Restate does not retry it.
    """
    example = f"""e.g. curl localhost:8080/{example_path} --json '"How much is my balance?"'"""
    if not body.strip():
        raise InvalidInputError(f"empty request body: send the message as a JSON string, {example}")
    try:
        value: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"request body is not valid JSON ({error}): send a JSON string, {example}") from None
    if not isinstance(value, str):
        raise InvalidInputError(f"expected the message as a JSON string, got {type(value).__name__}; {example}")
    if not value.strip():
        raise InvalidInputError("the message is empty")
    if len(value) > max_chars:
        raise InvalidInputError(
            f"the message has {len(value)} characters; the maximum is {max_chars} (LoopSettings.max_message_chars)"
        )
    return value
