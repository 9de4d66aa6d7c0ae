"""``resilient-agents sessions list | show <app> <key>``: the sessions of an app, and one session's conversation
and state (idle, running, waiting or failing, and on what). Private module.

The history comes from the session object's ``history`` handler over the ingress; everything else from the
engine's SQL introspection over the admin API (see :mod:`resilient_agents.cli._invocations`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import httpx

from resilient_agents.engine.admin import query
from resilient_agents.errors import EngineError

from ._apps import DATA_DIR, find_project_root, load_project, read_up_state
from ._headers import add_header_argument, caller_headers
from ._invocations import (
    Invocation,
    default_admin,
    describe_activity,
    failure_text,
    fetch_invocation,
    format_age,
    parse_time,
    retry_text,
    sql_literal,
    table,
)
from ._usage import usage_lines

DEFAULT_INGRESS = "http://127.0.0.1:8080"
DEFAULT_ADMIN = "http://127.0.0.1:9070"
_MAX_OUTPUT_CHARS = 300


def add_sessions_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sessions list [APP] [--service S]`` and ``sessions show <app> <key> [--object NAME] [--json]
    [--ingress URL] [--admin URL]`` to the CLI's subcommands.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.
    """
    sessions = subparsers.add_parser("sessions", help="inspect conversations kept as Virtual Objects")
    actions = sessions.add_subparsers(required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print a session's history and current agent (also mid-turn)")
    show.add_argument("app", help="the app: a name from pyproject.toml or module:attribute")
    show.add_argument("key", help="the session key")
    show.add_argument("--object", help="the session object's name (default: the app's)")
    show.add_argument("--json", dest="as_json", action="store_true", help="print the raw JSON history")
    show.add_argument("--ingress", help=f"ingress URL (default: from `up`, else {DEFAULT_INGRESS})")
    show.add_argument("--admin", help=f"admin URL, for the session's state (default: from `up`, else {DEFAULT_ADMIN})")
    add_header_argument(show)
    show.set_defaults(func=_cmd_show)
    listing = actions.add_parser("list", help="the sessions (object keys with a conversation) and their turns")
    listing.add_argument("app", nargs="?", help="the app whose session object to list (default: every session object)")
    listing.add_argument("--service", help="the session object's name (instead of APP)")
    listing.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    listing.add_argument("--admin", help=f"admin URL (default: from `up`, else {DEFAULT_ADMIN})")
    listing.set_defaults(func=_cmd_list)


def _cmd_show(args: argparse.Namespace) -> int:
    object_name: str | None = args.object
    if object_name is None:
        from ._targets import resolve_target

        # The session object's name comes from the engine's admin API (the app is not imported).
        target = resolve_target(load_project(), args.app, None, args.admin, DEFAULT_ADMIN).target
        if target.keyed is False:
            print(
                f"error: app {args.app!r} has no sessions (it talks to the stateless handler "
                f"{target.service}/{target.handler}); pass --object NAME for its session object",
                file=sys.stderr,
            )
            return 2
        object_name = target.service
    admin = default_admin(args.admin)
    return sessions_show(
        args.ingress or _default_ingress(),
        object_name,
        args.key,
        as_json=args.as_json,
        admin_url=admin,
        headers=caller_headers(args.headers, args.key),
    )


def _default_ingress() -> str:
    from_env = os.environ.get("RESTATE_INGRESS_URL")
    if from_env:
        return from_env
    url = read_up_state(find_project_root() / DATA_DIR).get("ingress_url")
    return url if isinstance(url, str) and url else DEFAULT_INGRESS


def sessions_show(
    ingress_url: str,
    object_name: str,
    key: str,
    *,
    as_json: bool,
    admin_url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Fetch ``POST {ingress}/{object}/{key}/history`` and print it, then the tokens per turn and in total
    (see :func:`~resilient_agents.cli._usage.usage_lines`); with ``admin_url``, then the session's state.

    Args:
        ingress_url: The Restate ingress, e.g. ``http://127.0.0.1:8080``.
        object_name: The session Virtual Object's name.
        key: The session key.
        as_json: Print the handler's JSON as it is instead of the readable conversation.
        admin_url: The admin API; when given, a last line says whether the session is idle, running, waiting
            (for what) or failing (with what); see :func:`session_state`. (Not with ``as_json``.)
        headers: Headers to send, e.g. the session token of an app that checks who calls which session.

    Returns:
        The exit code: 0 on success, 1 when the ingress cannot be reached or answers with an error.
    """
    url = f"{ingress_url.rstrip('/')}/{object_name}/{key}/history"
    try:
        # The handler takes no input: the ingress rejects a request that has a body or a content type.
        response = httpx.post(url, headers=dict(headers or {}), timeout=30.0)
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
        for line in usage_lines(history.get("usage") if isinstance(history, dict) else None):
            print(line)
        if admin_url is not None:
            _print_state(admin_url, object_name, key)
    return 0


def _print_state(admin_url: str, object_name: str, key: str) -> None:
    try:
        print(session_state(admin_url, object_name, key).line())
    except EngineError as error:
        print(f"state: unknown ({error})", file=sys.stderr)


def _cmd_list(args: argparse.Namespace) -> int:
    admin = default_admin(args.admin)
    objects = [args.service] if args.service else None
    if objects is None and args.app:
        from ._targets import resolve_target

        target = resolve_target(load_project(), args.app, None, args.admin, DEFAULT_ADMIN).target
        if target.keyed is False:
            print(
                f"error: app {args.app!r} has no sessions; pass --service NAME for its session object", file=sys.stderr
            )
            return 2
        objects = [target.service]
    if objects is None:
        objects = session_objects(admin)
    sessions = [summary for name in objects for summary in list_sessions(admin, name)]
    now = _dt.datetime.now(_dt.UTC)
    if args.as_json:
        rows = [
            {**dataclasses.asdict(s), "last_activity": s.last_activity.isoformat() if s.last_activity else None}
            for s in sessions
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not sessions:
        print(f"no sessions{' of ' + ', '.join(objects) if objects else ''} on the engine at {admin}")
        return 0
    lines = [["OBJECT", "KEY", "MESSAGES", "LAST ACTIVITY", "TURN"]]
    for s in sessions:
        messages = "?" if s.messages is None else str(s.messages)
        last = f"{format_age(s.last_activity, now)} ago" if s.last_activity else "-"
        turn = f"{s.turn} (see `sessions show`)" if s.turn else "idle"
        lines.append([s.object_name, s.key, messages, last, turn])
    print("\n".join(table(lines)))
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


# -- what a session is doing: idle, running, waiting or failing (from the engine's SQL introspection) --------

SessionCondition = Literal["idle", "running", "waiting", "failing"]
_SESSION_STATE_KEYS = ("agents_session", "session")
"""State keys under which session objects keep their conversation (Agents SDK path, native loop): the whole
record (schema version 1) or a head record counting the items kept in chunks under ``<key>:items:<n>``."""


@dataclasses.dataclass(frozen=True)
class SessionState:
    """What one session is doing now."""

    condition: SessionCondition
    """``idle``: no turn; ``running``: a turn works (a step in flight); ``waiting``: a turn waits for the model
    (retrying through an outage), a person, a timer or another call; ``failing``: a turn's step keeps failing,
    or the turn is paused after its retries ran out."""
    detail: str
    """In words: what it waits for or fails with."""
    invocation_id: str | None = None
    """The turn's invocation (the one holding the object), if any."""
    queued: int = 0
    """Messages waiting behind the running turn."""

    def line(self) -> str:
        """``state: waiting for the model (llm: Triage #1): attempt 3, next try in 1.2 s, ...``."""
        turn = f" [turn {self.invocation_id}]" if self.invocation_id else ""
        queued = f"; {self.queued} more message(s) queued" if self.queued else ""
        return f"state: {self.condition}: {self.detail}{turn}{queued}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        return dataclasses.asdict(self)


def session_state(admin_url: str, object_name: str, key: str) -> SessionState:
    """Tell whether the session ``object_name/key`` is idle, running, waiting or failing, and on what.

    Reads which invocation holds the object (``sys_keyed_service_status``), its status and last failure
    (``sys_invocation``) and, for a running or suspended one, its journal: an open ``llm:`` step backing off is
    waiting for the model, any other failing step is failing, a paused turn is failing; an open timer, call or
    approval request is waited for; an open step is running.

    Raises:
        EngineError: The admin API is unreachable or rejected a query.
    """
    service, key_literal = sql_literal(object_name), sql_literal(key)
    where = f"service_name = '{service}' AND service_key = '{key_literal}'"
    holders = query(admin_url, f"SELECT invocation_id FROM sys_keyed_service_status WHERE {where}")
    queued_rows = query(admin_url, f"SELECT count(*) AS n FROM sys_inbox WHERE {where}")
    queued = int(queued_rows[0]["n"]) if queued_rows else 0
    holder = fetch_invocation(admin_url, str(holders[0]["invocation_id"])) if holders else None
    if holder is None:
        return SessionState("idle", "no turn is running", queued=queued)
    condition, detail = _condition(admin_url, holder)
    return SessionState(condition, detail, holder.id, queued)


def _condition(admin_url: str, inv: Invocation) -> tuple[SessionCondition, str]:
    now = _dt.datetime.now(_dt.UTC)
    if inv.status == "paused":
        return "failing", (
            f"the turn is paused after its retries ran out; last failure {failure_text(inv)}. Fix the cause, then "
            f"`resilient-agents invocations resume {inv.id}` (or cancel it)"
        )
    retrying = inv.last_failure is not None and (inv.status == "backing-off" or inv.attempts > 1)
    if retrying:
        attempt = f"attempt {inv.attempts + 1 if inv.status == 'backing-off' else inv.attempts}"
        retry = f"{attempt}, {retry_text(inv, now)}"
        if (inv.failure_step or "").startswith("llm:"):
            return "waiting", f"for the model ({inv.failure_step}): {retry}, last error: {inv.last_failure}"
        return "failing", f"{failure_text(inv)} ({retry})"
    if inv.status not in ("running", "suspended"):
        return "running", f"the turn is {inv.status} (about to start)"
    activity = describe_activity(admin_url, inv)
    if activity.kind == "step":
        return "running", activity.text
    if activity.kind == "idle":
        return "running", "working between steps" if inv.status == "running" else "suspended"
    detail = f"for {activity.text}"
    if activity.kind == "call" and activity.call_id:
        detail += _callee_note(admin_url, activity.call_id)
    return "waiting", detail


def _callee_note(admin_url: str, call_id: str) -> str:
    """``; that call is backing-off: ...`` when the called invocation is in trouble, else nothing."""
    callee = fetch_invocation(admin_url, call_id)
    if callee is None or callee.status not in ("backing-off", "paused"):
        return ""
    return f"; that call is {callee.status}, last failure {failure_text(callee)}"


@dataclasses.dataclass(frozen=True)
class SessionSummary:
    """One line of ``sessions list``."""

    object_name: str
    """The session object."""
    key: str
    """The session key."""
    messages: int | None
    """Items in the stored conversation (None when it cannot be read)."""
    last_activity: _dt.datetime | None
    """When an invocation of this session last changed (None when the engine no longer remembers any)."""
    turn: str | None
    """The invocation holding the session (a turn running, waiting or failing), or None when idle."""


def session_objects(admin_url: str) -> list[str]:
    """The objects whose state holds a conversation (under ``agents_session`` or ``session``)."""
    keys = ", ".join(f"'{k}'" for k in _SESSION_STATE_KEYS)
    rows = query(admin_url, f"SELECT DISTINCT service_name FROM state WHERE key IN ({keys}) ORDER BY service_name")
    return [str(row["service_name"]) for row in rows]


def list_sessions(admin_url: str, object_name: str) -> list[SessionSummary]:
    """The keys of ``object_name`` that keep state, with message counts, last activity and the running turn.

    Raises:
        EngineError: The admin API is unreachable or rejected a query.
    """
    name = sql_literal(object_name)
    keys = ", ".join(f"'{k}'" for k in _SESSION_STATE_KEYS)
    stored = query(
        admin_url,
        f"SELECT service_key, key, value_utf8 FROM state WHERE service_name = '{name}' AND key IN ({keys})",
    )
    all_keys = query(admin_url, f"SELECT DISTINCT service_key FROM state WHERE service_name = '{name}'")
    activity = query(
        admin_url,
        "SELECT target_service_key AS k, max(modified_at) AS at FROM sys_invocation "
        f"WHERE target_service_name = '{name}' GROUP BY target_service_key",
    )
    holders = query(
        admin_url, f"SELECT service_key, invocation_id FROM sys_keyed_service_status WHERE service_name = '{name}'"
    )
    messages = {str(r["service_key"]): _message_count(r.get("value_utf8")) for r in stored}
    last = {str(r["k"]): parse_time(r.get("at")) for r in activity}
    turn = {str(r["service_key"]): str(r["invocation_id"]) for r in holders}
    session_keys = sorted({str(r["service_key"]) for r in all_keys} | set(turn))
    return [SessionSummary(object_name, k, messages.get(k), last.get(k), turn.get(k)) for k in session_keys]


def _message_count(value: Any) -> int | None:
    try:
        record = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    log = record.get("log")
    if isinstance(log, dict):  # Schema version 2: a head record; the items are in chunks it counts.
        count = log.get("items")
        return count if isinstance(count, int) else None
    items = record.get("items") if "items" in record else record.get("history")
    return len(items) if isinstance(items, list) else None
