"""Reading the user's message from a request body. Private module."""

from __future__ import annotations

from resilient_agents._durable import RawBytes
from resilient_agents._durable import parse_user_message as _parse

__all__ = ["RawBytes", "parse_user_message"]


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
    return _parse(
        body,
        max_chars,
        example=f"""curl localhost:8080/{example_path} --json '"How much is my balance?"'""",
        limit_setting="LoopSettings.max_message_chars",
    )
