"""``resilient-agents sessions show <app> <key>``: print a session's conversation. Private module."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx

from ._apps import find_project_root, resolve_app
from ._up import STATE_FILE

DEFAULT_INGRESS = "http://127.0.0.1:8080"
_MAX_OUTPUT_CHARS = 300


def add_sessions_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sessions show <app> <key> [--object NAME] [--json] [--ingress URL]`` to the CLI's subcommands.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.
    """
    sessions = subparsers.add_parser("sessions", help="inspect conversations kept as Virtual Objects")
    actions = sessions.add_subparsers(required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print a session's history and current agent (also mid-turn)")
    show.add_argument("app", help="example name or module:attribute")
    show.add_argument("key", help="the session key")
    show.add_argument("--object", help="the session object's name (default: the app's)")
    show.add_argument("--json", dest="as_json", action="store_true", help="print the raw JSON history")
    show.add_argument("--ingress", help=f"ingress URL (default: from `up`, else {DEFAULT_INGRESS})")
    show.set_defaults(func=_cmd_show)


def _cmd_show(args: argparse.Namespace) -> int:
    object_name: str | None = args.object
    if object_name is None:
        app = resolve_app(args.app)
        if not app.keyed:
            print(
                f"error: app {app.name!r} has no sessions (its agent is a stateless service); "
                "pass --object NAME for an app whose session object has another name",
                file=sys.stderr,
            )
            return 2
        object_name = app.service
    return sessions_show(args.ingress or _default_ingress(), object_name, args.key, as_json=args.as_json)


def _default_ingress() -> str:
    from_env = os.environ.get("RESTATE_INGRESS_URL")
    if from_env:
        return from_env
    try:
        state: Any = json.loads((find_project_root() / ".restate" / STATE_FILE).read_text())
    except (OSError, ValueError):
        return DEFAULT_INGRESS
    url = state.get("ingress_url") if isinstance(state, dict) else None
    return url if isinstance(url, str) and url else DEFAULT_INGRESS


def sessions_show(ingress_url: str, object_name: str, key: str, *, as_json: bool) -> int:
    """Fetch ``POST {ingress}/{object}/{key}/history`` and print it.

    Args:
        ingress_url: The Restate ingress, e.g. ``http://127.0.0.1:8080``.
        object_name: The session Virtual Object's name.
        key: The session key.
        as_json: Print the handler's JSON as it is instead of the readable conversation.

    Returns:
        The exit code: 0 on success, 1 when the ingress cannot be reached or answers with an error.
    """
    url = f"{ingress_url.rstrip('/')}/{object_name}/{key}/history"
    try:
        # The handler takes no input: the ingress rejects a request that has a body or a content type.
        response = httpx.post(url, timeout=30.0)
    except httpx.HTTPError as error:
        print(f"error: cannot reach the Restate ingress at {ingress_url} ({error}); is the stack up?", file=sys.stderr)
        return 1
    if response.status_code >= 400:
        print(f"error: HTTP {response.status_code} from {url}: {_error_message(response)}", file=sys.stderr)
        return 1
    history: Any = response.json()
    if as_json:
        print(json.dumps(history, indent=2, ensure_ascii=False))
    else:
        print("\n".join(format_history(history, object_name)))
    return 0


def _error_message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)


def format_history(history: dict[str, Any], object_name: str = "") -> list[str]:
    """Render the ``history`` handler's JSON as readable lines.

    Messages read ``role: text``; a tool call reads ``  → tool(args)`` and its output ``  ← output``.

    Args:
        history: What the session object's ``history`` handler returned.
        object_name: The object's name, for the header line.

    Returns:
        The lines to print, header first.
    """
    if "history" in history and "items" not in history:
        return _loop_history_lines(history, object_name)
    where = f" ({object_name})" if object_name else ""
    turns = history.get("turns", 0)
    lines = [
        f"session {history.get('session')!r}{where} · current agent: {history.get('current_agent')} · "
        f"{turns} turn{'s' if turns != 1 else ''}"
    ]
    items: list[dict[str, Any]] = history.get("items") or []
    if not items:
        lines.append("(no messages yet)")
    lines.extend(line for item in items for line in _item_lines(item))
    pending: list[dict[str, Any]] = history.get("pending_items") or []
    if history.get("turn_running"):
        lines.append("… turn in progress" + (" (waiting for these tool calls):" if pending else ""))
        lines.extend(line for item in pending for line in _item_lines(item))
    return lines


def _loop_history_lines(snapshot: dict[str, Any], object_name: str) -> list[str]:
    """Render a native-loop session (``SessionSnapshot``: ``history`` of chat messages)."""
    where = f" ({object_name})" if object_name else ""
    lines = [f"session{where} · current agent: {snapshot.get('current_agent')}"]
    messages: list[dict[str, Any]] = snapshot.get("history") or []
    if not messages:
        lines.append("(no messages yet)")
    for message in messages:
        role = message.get("role")
        if role == "tool":
            lines.append(f"  ← {_shorten(str(message.get('text', '')))}")
            continue
        if message.get("text"):
            lines.append(f"{role}: {message['text']}")
        for call in message.get("tool_calls") or []:
            lines.append(f"  → {call.get('name')}({_shorten(str(call.get('arguments', '')))})")
    if snapshot.get("turn_running"):
        lines.append("… turn in progress")
    return lines


def _item_lines(item: dict[str, Any]) -> Iterator[str]:
    kind = item.get("type")
    if kind == "function_call":
        yield f"  → {item.get('name')}({item.get('arguments', '')})"
    elif kind == "function_call_output":
        yield f"  ← {_shorten(_text_of(item.get('output')))}"
    elif kind in (None, "message") and "role" in item:
        yield f"{item['role']}: {_text_of(item.get('content'))}"
    elif kind == "reasoning":
        return
    else:
        yield f"  [{kind}]"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [_part_text(part) for part in content]
        return " ".join(part for part in parts if part)
    return json.dumps(content, ensure_ascii=False)


def _part_text(part: Any) -> str:
    if not isinstance(part, dict):
        return str(part)
    for field in ("text", "refusal"):
        value = part.get(field)
        if isinstance(value, str):
            return value
    return f"[{part.get('type', 'content')}]"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_OUTPUT_CHARS else text[: _MAX_OUTPUT_CHARS - 1] + "…"
