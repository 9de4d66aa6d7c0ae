"""``resilient-agents invocations [list] | resume | cancel | kill | pause ID``: see and steer what the engine runs.

Private module. ``list`` reads the engine's SQL introspection (``sys_invocation``, ``sys_journal``,
``sys_journal_events``) through the admin API; the actions are ``PATCH /invocations/{id}/<action>`` of the admin
API (:mod:`resilient_agents.engine.admin`). Everything here only talks HTTP: the command must start fast and
load neither the Agents SDK nor the Restate SDK.

:func:`describe_activity` (what a running or suspended invocation is doing or waiting for, read from its journal)
is shared with ``sessions show``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from resilient_agents.engine.admin import (
    InvocationAction,
    cancel_invocation,
    kill_invocation,
    pause_invocation,
    query,
    resume_invocation,
)
from resilient_agents.errors import ConfigurationError, EngineError

from ._apps import DATA_DIR, find_project_root, running_up_state
from ._waiting import _next_try

DEFAULT_ADMIN = "http://127.0.0.1:9070"
STATUSES = (
    "active",
    "running",
    "backing-off",
    "paused",
    "suspended",
    "scheduled",
    "inboxed",
    "ready",
    "pending",
    "completed",
    "all",
)
"""Values of ``--status``: ``active`` (default) is every invocation that has not completed."""

_COLUMNS = (
    "id, target, target_service_name, target_service_key, target_handler_name, status, created_at, modified_at, "
    "retry_count, next_retry_at, last_failure, last_failure_related_command_name, completion_result, "
    "completion_failure, suspended_waiting_for_signals"
)
_ERROR_CHARS = 240
_AWAKEABLE_SIGNALS_FROM = 17
"""Signal indices below this are the engine's own (1 is cancellation); an awakeable's signal is 17 or above."""
_JOURNAL_LOOKUPS = 100
"""At most this many journals are read for one ``list`` (to say what running invocations wait for)."""


# -- what the engine says about an invocation ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Invocation:
    """One row of ``sys_invocation``, with the fields the commands show."""

    id: str
    """The invocation id, ``inv_...``."""
    target: str
    """``Service/handler`` or ``Object/key/handler``."""
    service: str
    """The target's service or object name."""
    key: str | None
    """The object key (None for a service)."""
    handler: str
    """The target handler."""
    status: str
    """The engine's status: ``running``, ``backing-off``, ``paused``, ``suspended``, ``completed``, ..."""
    created_at: _dt.datetime | None
    """When the invocation was created."""
    attempts: int
    """Attempts started so far (the engine's ``retry_count``); 0 when the engine keeps no count."""
    next_retry_at: _dt.datetime | None
    """When a backing-off invocation is tried again."""
    last_failure: str | None
    """The last error of a failed attempt (first line), or None."""
    failure_step: str | None
    """The journaled step (e.g. ``llm: WeatherAgent #1``) the last failure happened in, or None."""
    outcome: str | None
    """For a completed invocation: ``success`` or the failure (``[409] cancelled``)."""
    awaits_awakeable: bool
    """A suspended invocation waits for an awakeable (a person's decision or another external event)."""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Invocation:
        """Build from a ``sys_invocation`` row selected with the module's columns."""
        signals = row.get("suspended_waiting_for_signals") or []
        result = row.get("completion_result")
        outcome = None
        if result == "success":
            outcome = "success"
        elif result is not None:
            outcome = _first_line(str(row.get("completion_failure") or result))
        return cls(
            id=str(row.get("id")),
            target=str(row.get("target") or "?"),
            service=str(row.get("target_service_name") or ""),
            key=str(row["target_service_key"]) if row.get("target_service_key") is not None else None,
            handler=str(row.get("target_handler_name") or ""),
            status=str(row.get("status") or "?"),
            created_at=parse_time(row.get("created_at")),
            attempts=int(row.get("retry_count") or 0),
            # The engine keeps the time of the last planned retry after a pause; it means nothing then.
            next_retry_at=parse_time(row.get("next_retry_at")) if row.get("status") == "backing-off" else None,
            last_failure=_first_line(str(row["last_failure"])) if row.get("last_failure") else None,
            failure_step=str(row.get("last_failure_related_command_name") or "") or None,
            outcome=outcome,
            awaits_awakeable=any(int(s) >= _AWAKEABLE_SIGNALS_FROM for s in signals if isinstance(s, int)),
        )

    def to_json(self, activity: str | None = None) -> dict[str, Any]:
        """A JSON-friendly dict (times as ISO strings)."""
        data = dataclasses.asdict(self)
        for name in ("created_at", "next_retry_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        data["doing"] = activity
        return data


def fetch_invocations(
    admin_url: str,
    *,
    status: str = "active",
    service: str | None = None,
    key: str | None = None,
    limit: int | None = None,
) -> list[Invocation]:
    """The engine's invocations, oldest first (the ones stuck longest come first).

    A paused invocation's last error is kept only in its journal events; it is read from there.

    Args:
        admin_url: The admin API base URL.
        status: One of :data:`STATUSES`.
        service: Only invocations of this service or object.
        key: Only invocations of this object key.
        limit: At most this many (the oldest); None for all.

    Raises:
        EngineError: The admin API is unreachable or rejected the query.
    """
    where = []
    if status == "active":
        where.append("status != 'completed'")
    elif status != "all":
        where.append(f"status = '{sql_literal(status)}'")
    if service:
        where.append(f"target_service_name = '{sql_literal(service)}'")
    if key is not None:
        where.append(f"target_service_key = '{sql_literal(key)}'")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    cap = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = query(admin_url, f"SELECT {_COLUMNS} FROM sys_invocation{clause} ORDER BY created_at{cap}")
    invocations = [Invocation.from_row(row) for row in rows]
    return _with_pause_failures(admin_url, invocations)


def fetch_invocation(admin_url: str, invocation_id: str) -> Invocation | None:
    """One invocation by id, or None when the engine does not know it."""
    rows = query(admin_url, f"SELECT {_COLUMNS} FROM sys_invocation WHERE id = '{sql_literal(invocation_id)}'")
    found = [Invocation.from_row(row) for row in rows]
    return _with_pause_failures(admin_url, found)[0] if found else None


def _with_pause_failures(admin_url: str, invocations: list[Invocation]) -> list[Invocation]:
    """Fill in the last error of paused invocations from their ``Paused`` journal event."""
    missing = [inv.id for inv in invocations if inv.status == "paused" and inv.last_failure is None]
    if not missing:
        return invocations
    rows = query(
        admin_url,
        "SELECT id, event_json FROM sys_journal_events WHERE event_type = 'Paused' AND id IN "
        f"({_id_list(missing)}) ORDER BY appended_at",
    )
    failures: dict[str, tuple[str, str | None]] = {}
    for row in rows:
        event = _json_object(row.get("event_json"))
        failure = event.get("last_failure") if isinstance(event.get("last_failure"), dict) else None
        if failure:
            message = f"[{failure.get('error_code', '?')}] {failure.get('error_message', '')}"
            failures[str(row["id"])] = (_first_line(message), failure.get("related_command_name"))
    return [
        dataclasses.replace(inv, last_failure=failures[inv.id][0], failure_step=inv.failure_step or failures[inv.id][1])
        if inv.id in failures
        else inv
        for inv in invocations
    ]


# -- what a running or suspended invocation is doing -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Activity:
    """What an invocation is doing or waiting for, read from its journal."""

    kind: Literal["step", "timer", "call", "approval", "awakeable", "idle"]
    """``step``: a journaled step is in flight; ``timer``, ``call``, ``approval``, ``awakeable``: it waits for
    one; ``idle``: nothing open in the journal (working between steps)."""
    text: str
    """In words, e.g. ``a timer (until 2026-11-30 04:05:00 UTC)`` or ``step 'tool: fetch' in flight``."""
    call_id: str | None = None
    """For ``call``: the invocation it waits for."""


def describe_activity(admin_url: str, invocation: Invocation) -> Activity:
    """Read the invocation's journal and say which step is in flight or what it waits for.

    Raises:
        EngineError: The admin API is unreachable or rejected the query.
    """
    return activities(admin_url, [invocation]).get(invocation.id, Activity("idle", "working between steps"))


def activities(admin_url: str, invocations: Sequence[Invocation]) -> dict[str, Activity]:
    """:func:`describe_activity` for several invocations with one journal query (running and suspended only)."""
    ids = [inv.id for inv in invocations if inv.status in ("running", "suspended")][:_JOURNAL_LOOKUPS]
    if not ids:
        return {}
    rows = query(
        admin_url,
        "SELECT id, index, entry_type, name, invoked_id, invoked_target, entry_lite_json FROM sys_journal "
        f"WHERE id IN ({_id_list(ids)}) ORDER BY id, index",
    )
    journals: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        journals.setdefault(str(row["id"]), []).append(row)
    by_id = {inv.id: inv for inv in invocations}
    return {id_: _activity(journals.get(id_, []), by_id[id_].awaits_awakeable) for id_ in ids}


@dataclasses.dataclass
class _Open:
    kind: Literal["step", "timer", "call"]
    label: str
    call_id: str | None = None
    at: _dt.datetime | None = None


def _activity(journal: Iterable[dict[str, Any]], awaits_awakeable: bool) -> Activity:
    pending: dict[int, _Open] = {}
    approval_requested = False
    for row in journal:
        entry = _json_object(row.get("entry_lite_json"))
        command = entry.get("Command")
        if isinstance(command, dict):
            approval_requested |= _is_approval_request(command, row)
            opened = _opened(command, row)
            if opened is not None:
                pending[opened[0]] = opened[1]
            continue
        notification = entry.get("Notification")
        if isinstance(notification, dict):
            completion = (notification.get("id") or {}).get("CompletionId")
            if isinstance(completion, int):
                pending.pop(completion, None)
    return _summarize(list(pending.values()), approval_requested, awaits_awakeable)


def _opened(command: dict[str, Any], row: dict[str, Any]) -> tuple[int, _Open] | None:
    """The completion id and description of a command that waits for a completion, else None."""
    for kind, body in command.items():
        if not isinstance(body, dict):
            continue
        if kind == "Run" and isinstance(body.get("completion_id"), int):
            return body["completion_id"], _Open("step", str(body.get("name") or row.get("name") or "unnamed step"))
        if kind == "Sleep" and isinstance(body.get("completion_id"), int):
            wake = body.get("wake_up_time")
            when = _dt.datetime.fromtimestamp(wake / 1000, _dt.UTC) if isinstance(wake, int | float) else None
            return body["completion_id"], _Open("timer", f"until {_clock(when)}" if when else "", at=when)
        if kind == "Call" and isinstance(body.get("result_completion_id"), int):
            target = str(row.get("invoked_target") or _target_name(body.get("invocation_target")))
            call_id = str(body.get("invocation_id") or row.get("invoked_id") or "") or None
            return body["result_completion_id"], _Open("call", target, call_id)
    return None


def _is_approval_request(command: dict[str, Any], row: dict[str, Any]) -> bool:
    """A one-way send to an approvals object's ``add`` (how ``await_approval`` lists its request)."""
    if "OneWayCall" not in command:
        return False
    parts = str(row.get("invoked_target") or _target_name(command["OneWayCall"].get("invocation_target"))).split("/")
    return len(parts) >= 2 and parts[-1] == "add" and (parts[0] == "Approvals" or parts[0].endswith(".Approvals"))


def _target_name(target: Any) -> str:
    if not isinstance(target, dict):
        return "?"
    for body in target.values():
        if isinstance(body, dict):
            key = f"/{body['key']}" if body.get("key") is not None else ""
            return f"{body.get('name', '?')}{key}/{body.get('handler', '?')}"
    return "?"


def _summarize(pending: list[_Open], approval_requested: bool, awaits_awakeable: bool) -> Activity:
    timers = [p for p in pending if p.kind == "timer"]
    calls = [p for p in pending if p.kind == "call"]
    steps = [p for p in pending if p.kind == "step"]
    if approval_requested and timers:
        at = timers[0].at
        return Activity("approval", "an approval by a person" + (f" (times out at {_clock(at)})" if at else ""))
    if calls:
        call = calls[0]
        more = f" and {len(calls) - 1} more call(s)" if len(calls) > 1 else ""
        return Activity("call", f"a call to {call.label} ({call.call_id}){more}", call.call_id)
    if steps:
        names = ", ".join(repr(step.label) for step in steps)
        return Activity("step", f"step{'s' if len(steps) > 1 else ''} {names} in flight")
    if awaits_awakeable:
        return Activity("awakeable", "an awakeable (an approval, a callback or another external event)")
    if timers:
        return Activity("timer", f"a timer ({timers[0].label})".replace(" ()", ""))
    return Activity("idle", "working between steps")


# -- formatting ----------------------------------------------------------------------------------------------


def failure_text(inv: Invocation) -> str:
    """``step 'fetch: A': [500 Internal] RuntimeError(...)`` (or only the error when no step is known)."""
    error = inv.last_failure or "unknown error"
    return f"in step {inv.failure_step!r}: {error}" if inv.failure_step else error


def retry_text(inv: Invocation, now: _dt.datetime) -> str:
    """``next try in 1.2 s`` for a backing-off invocation, ``running now`` otherwise."""
    return _next_try(inv.next_retry_at.isoformat() if inv.next_retry_at else None, now)


def format_invocation(inv: Invocation, now: _dt.datetime, activity: Activity | None = None) -> str:
    """The details of one ``invocations list`` line after id, target, status, age and attempts."""
    parts = []
    if inv.status == "backing-off":
        parts.append(retry_text(inv, now))
    elif inv.status == "paused":
        parts.append("paused: fix the cause, then `invocations resume`")
    if activity is not None and activity.kind != "idle":
        verb = "doing" if activity.kind == "step" else "waiting for"
        parts.append(f"{verb}: {activity.text}")
    if inv.outcome is not None:
        parts.append(f"outcome: {inv.outcome}")
    elif inv.last_failure or inv.failure_step:
        parts.append(f"last failure {failure_text(inv)}")
    return "; ".join(parts)


def format_age(created: _dt.datetime | None, now: _dt.datetime) -> str:
    """``42s``, ``3m05s``, ``2h10m``, ``3d04h``."""
    if created is None:
        return "?"
    seconds = max(int((now - created).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def table(rows: list[list[str]]) -> list[str]:
    """Align all but the last column of ``rows`` (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip() for row in rows
    ]


# -- the command ---------------------------------------------------------------------------------------------


def add_invocations_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``invocations [list] | resume ID | cancel ID | kill ID | pause ID`` to the CLI's subcommands.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.
    """
    parser = subparsers.add_parser(
        "invocations",
        help="list invocations (stuck, backing off, paused...) with their last error; resume, cancel or kill one",
        description="Without an action: list the invocations that have not completed.",
    )
    _add_list_options(parser)
    parser.set_defaults(func=_cmd_list, status="active", service=None, as_json=False, admin=None, limit=200)
    actions = parser.add_subparsers(metavar="[ACTION]")
    listing = actions.add_parser("list", help="one line per invocation: target, status, age, attempts, last error")
    _add_list_options(listing)
    listing.set_defaults(func=_cmd_list)
    helps: dict[InvocationAction, str] = {
        "resume": "resume a paused invocation (fix the cause first); a backing-off one retries at once",
        "cancel": "cancel gracefully: the handler sees the cancellation at its next step and can clean up",
        "kill": "end at once: no more handler code runs, nothing is compensated (prefer cancel)",
        "pause": "stop retrying a running or backing-off invocation until `invocations resume`",
    }
    for action, text in helps.items():
        command = actions.add_parser(action, help=text, description=text)
        command.add_argument("invocation_id", metavar="ID", help="the invocation id (inv_...)")
        command.add_argument(
            "--admin", default=argparse.SUPPRESS, help=f"admin URL (default: from `up`, else {DEFAULT_ADMIN})"
        )
        command.set_defaults(func=_cmd_action, action=action)


def _add_list_options(parser: argparse.ArgumentParser) -> None:
    # The options live on both `invocations` and `invocations list`; SUPPRESS keeps the subparser from
    # overwriting what was given before the action word (the defaults are set on `invocations`).
    default = argparse.SUPPRESS
    parser.add_argument(
        "--status", choices=STATUSES, default=default, help="which invocations (default: active = not completed)"
    )
    parser.add_argument("--service", default=default, help="only invocations of this service or object")
    parser.add_argument(
        "--limit", type=_positive_int, default=default, help="show at most this many, oldest first (default: 200)"
    )
    parser.add_argument("--json", dest="as_json", action="store_true", default=default, help="print JSON")
    parser.add_argument("--admin", default=default, help=f"admin URL (default: from `up`, else {DEFAULT_ADMIN})")


def default_admin(given: str | None = None) -> str:
    """The admin URL: ``given``, else ``$RESTATE_ADMIN_URL``, else the one of a running ``up``, else the default."""
    if given:
        return given
    from_env = os.environ.get("RESTATE_ADMIN_URL")
    if from_env:
        return from_env
    url = running_up_state(find_project_root() / DATA_DIR).get("admin_url")
    return url if isinstance(url, str) and url else DEFAULT_ADMIN


def _cmd_list(args: argparse.Namespace) -> int:
    admin = default_admin(args.admin)
    invocations = fetch_invocations(admin, status=args.status, service=args.service, limit=args.limit + 1)
    more = len(invocations) > args.limit
    invocations = invocations[: args.limit]
    doing = activities(admin, invocations)
    now = _dt.datetime.now(_dt.UTC)
    if args.as_json:
        print(json.dumps([inv.to_json(_text(doing.get(inv.id))) for inv in invocations], indent=2))
        return 0
    if not invocations:
        which = "" if args.status == "all" else f" ({args.status})"
        where = f" of {args.service!r}" if args.service else ""
        print(f"no invocations{where}{which} on the engine at {admin}")
        return 0
    rows = [["ID", "TARGET", "STATUS", "AGE", "ATTEMPTS", "DETAILS"]]
    for inv in invocations:
        attempts = str(inv.attempts) if inv.attempts else "-"
        details = format_invocation(inv, now, doing.get(inv.id))
        rows.append([inv.id, inv.target, inv.status, format_age(inv.created_at, now), attempts, details])
    print("\n".join(table(rows)))
    if more:
        print(f"(only the oldest {args.limit} are shown; see more with --limit, or narrow with --status/--service)")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0")
    return value


def _text(activity: Activity | None) -> str | None:
    return activity.text if activity is not None and activity.kind != "idle" else None


_DONE: dict[InvocationAction, tuple[str, str]] = {
    "resume": ("resumed", "resume requested; it runs again shortly"),
    "cancel": (
        "cancelled",
        "cancellation requested: the handler sees it at its next step or retry and ends failed with 'cancelled' "
        "(use `invocations kill` if it never gets there)",
    ),
    "kill": ("killed", "kill requested; it ends shortly"),
    "pause": ("already paused", "pausing: it stops after its current attempt; `invocations resume ID` goes on"),
}


def _cmd_action(args: argparse.Namespace) -> int:
    admin = default_admin(args.admin)
    action: InvocationAction = args.action
    do = {
        "resume": resume_invocation,
        "cancel": cancel_invocation,
        "kill": kill_invocation,
        "pause": pause_invocation,
    }[action]
    try:
        done = do(admin, args.invocation_id)
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    now_text, later_text = _DONE[action]
    print(f"{args.invocation_id}: {now_text if done else later_text}")
    return 0


# -- small helpers -------------------------------------------------------------------------------------------


def parse_time(value: Any) -> _dt.datetime | None:
    """An engine timestamp (``2026-11-30T04:04:56.363Z``) as an aware datetime, or None."""
    if not value:
        return None
    try:
        at = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=_dt.UTC)


def sql_literal(text: str) -> str:
    """``text`` inside single quotes of an SQL string literal."""
    if "\x00" in text:
        raise ConfigurationError(f"{text!r} contains a NUL character")
    return text.replace("'", "''")


def _id_list(ids: Iterable[str]) -> str:
    return ", ".join(f"'{sql_literal(i)}'" for i in ids)


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= _ERROR_CHARS else line[: _ERROR_CHARS - 1] + "…"


def _clock(at: _dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
