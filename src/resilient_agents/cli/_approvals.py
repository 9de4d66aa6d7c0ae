"""``resilient-agents approvals list | approve ID | reject ID``: decide what agents and workflows wait for.

Private module. The commands talk to the Restate ingress only: ``list`` reads the ``Approvals`` object,
``approve`` and ``reject`` send the :class:`~resilient_agents.approvals.ApprovalDecision` to where the
request said it waits (an awakeable, or a workflow's handler).
"""

from __future__ import annotations

import argparse
import getpass
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError

from resilient_agents.approvals import APPROVALS_KEY, APPROVALS_OBJECT, ApprovalDecision, PendingApproval

DEFAULT_INGRESS = "http://127.0.0.1:8080"
_HTTP_TIMEOUT = 10.0
_TITLE_WIDTH = 48
_DESCRIPTION = "Requests that agents and workflows wait on until a person decides (or their timeout passes)."
_PENDING_LIST: TypeAdapter[list[PendingApproval]] = TypeAdapter(list[PendingApproval])


class _CommandError(Exception):
    """A failure already phrased for the user; the command prints it and exits with 1."""


def add_approvals_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``approvals list|approve|reject`` to the ``resilient-agents`` command.

    Each subcommand sets ``func`` to a callable taking the parsed arguments and returning the exit code.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned for the top-level parser.
    """
    parser = subparsers.add_parser("approvals", help="list, approve or reject requests waiting for a person")
    _add_commands(parser)


def approvals_main(argv: Sequence[str] | None = None) -> int:
    """Run ``resilient-agents approvals`` with ``argv`` (e.g. ``["approve", "apr-1", "--by", "ana"]``).

    Args:
        argv: The arguments after ``approvals`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 when the engine is unreachable, answers with an error or has no such
        approval. Bad usage exits through argparse (``SystemExit(2)``), as the main command does.
    """
    parser = argparse.ArgumentParser(prog="resilient-agents approvals", description=_DESCRIPTION)
    _add_commands(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _add_commands(parser: argparse.ArgumentParser) -> None:
    parser.description = _DESCRIPTION
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="show the pending approvals")
    listing.add_argument("--json", dest="as_json", action="store_true", help="print them as JSON")
    _add_ingress(listing)
    listing.set_defaults(func=cmd_list)

    for name in ("approve", "reject"):
        decide = sub.add_parser(name, help=f"{name} a pending request")
        decide.add_argument("id", metavar="ID", help="the approval id (as `approvals list` shows it)")
        decide.add_argument("--by", metavar="NAME", help="who decides (default: your user name)")
        decide.add_argument("--note", metavar="TEXT", help="a reason or comment for the requester")
        _add_ingress(decide)
        decide.set_defaults(func=cmd_decide, approved=name == "approve")


def _add_ingress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ingress",
        metavar="URL",
        help=f"ingress URL (default: $RESTATE_INGRESS_URL, else from `up`, else {DEFAULT_INGRESS})",
    )


def cmd_list(args: argparse.Namespace) -> int:
    """``approvals list``: print the pending approvals as a table (or JSON with ``--json``)."""
    ingress = _ingress(args.ingress)
    try:
        pending = _fetch_pending(ingress)
    except _CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.as_json:
        print(json.dumps([a.model_dump(mode="json") for a in pending], indent=2, ensure_ascii=False))
    else:
        print(render_table(pending, now_ms=int(time.time() * 1000)))
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    """``approvals approve|reject ID``: send the decision to the request's waiter."""
    ingress = _ingress(args.ingress)
    decision = ApprovalDecision(approved=args.approved, by=args.by or _user(), note=args.note)
    try:
        approval = find_approval(_fetch_pending(ingress), args.id)
        _resolve(ingress, approval, decision)
    except _CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    verb = "approved" if decision.approved else "rejected"
    print(f"{verb} {approval.id}: {approval.title}")
    return 0


def render_table(pending: Sequence[PendingApproval], *, now_ms: int) -> str:
    """Format pending approvals as an aligned text table.

    Args:
        pending: The approvals, in the order to show.
        now_ms: The current time (Unix ms) that ages and deadlines are measured from.

    Returns:
        The table, or a one-line note when nothing is pending.
    """
    if not pending:
        return "no pending approvals"
    header = ("ID", "TITLE", "REQUESTED BY", "AGE", "EXPIRES IN")
    rows = [
        (
            a.id,
            _shorten(a.title, _TITLE_WIDTH),
            a.requested_by or "-",
            format_duration(max(0, now_ms - a.created_at_ms)),
            _expires(a.expires_at_ms, now_ms),
        )
        for a in pending
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    head = "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()
    return "\n".join([head, *lines])


def find_approval(pending: Sequence[PendingApproval], approval_id: str) -> PendingApproval:
    """Return the pending approval ``approval_id`` (an exact id, or a prefix of exactly one id).

    Raises:
        _CommandError: When no pending approval matches, or a prefix matches several.
    """
    for approval in pending:
        if approval.id == approval_id:
            return approval
    matches = [a for a in pending if a.id.startswith(approval_id)] if approval_id else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(a.id for a in matches)
        raise _CommandError(f"{approval_id!r} matches several pending approvals ({ids}); give the whole id")
    raise _CommandError(f"no pending approval {approval_id!r}; `resilient-agents approvals list` shows them")


def format_duration(ms: int) -> str:
    """Say a duration in the largest two units: ``"45s"``, ``"3m 20s"``, ``"2h 5m"``, ``"1d 3h"``."""
    seconds = ms // 1000
    units = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
    for (unit, size), (small_unit, small_size) in itertools.pairwise(units):
        if seconds >= size:
            big, rest = divmod(seconds, size)
            small = rest // small_size
            return f"{big}{unit} {small}{small_unit}" if small else f"{big}{unit}"
    return f"{seconds}s"


def _expires(expires_at_ms: int | None, now_ms: int) -> str:
    if expires_at_ms is None:
        return "never"
    if expires_at_ms <= now_ms:
        return "expired"
    return format_duration(expires_at_ms - now_ms)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _fetch_pending(ingress: str) -> list[PendingApproval]:
    response = _post(ingress, f"{APPROVALS_OBJECT}/{APPROVALS_KEY}/list", None)
    try:
        return _PENDING_LIST.validate_json(response.content)
    except ValidationError as error:
        raise _CommandError(f"unexpected answer from {APPROVALS_OBJECT}/{APPROVALS_KEY}/list: {error}") from None


def _resolve(ingress: str, approval: PendingApproval, decision: ApprovalDecision) -> None:
    target = approval.resolve
    body = decision.model_dump_json().encode()
    if target.kind == "awakeable" and target.awakeable_id:
        _post(ingress, f"restate/awakeables/{target.awakeable_id}/resolve", body)
    elif target.kind == "workflow" and target.service and target.key and target.handler:
        _post(ingress, f"{target.service}/{target.key}/{target.handler}", body)
    else:
        raise _CommandError(f"approval {approval.id!r} has an incomplete resolve target: {target.model_dump_json()}")


def _post(ingress: str, path: str, body: bytes | None) -> httpx.Response:
    url = f"{ingress.rstrip('/')}/{path}"
    headers = {"content-type": "application/json"} if body is not None else {}
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=_HTTP_TIMEOUT)
    except httpx.ConnectError:
        raise _CommandError(
            f"cannot reach the Restate ingress at {ingress}; start the stack with `resilient-agents up` "
            "or pass --ingress URL"
        ) from None
    except httpx.TimeoutException:
        raise _CommandError(f"no answer from {url} within {_HTTP_TIMEOUT:.0f}s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise _CommandError(f"cannot call {url}: {error} (is --ingress a URL like http://127.0.0.1:8080?)") from None
    if response.status_code >= 400:
        raise _CommandError(f"HTTP {response.status_code} from {url}: {_error_message(response)}")
    return response


def _error_message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return json.dumps(body)


def _ingress(explicit: str | None) -> str:
    return explicit or os.environ.get("RESTATE_INGRESS_URL") or _up_ingress() or DEFAULT_INGRESS


def _up_ingress() -> str | None:
    """The ingress URL that ``resilient-agents up`` recorded for this project, if any."""
    from ._apps import find_project_root
    from ._up import STATE_FILE

    try:
        state = json.loads((find_project_root() / ".restate" / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    url = state.get("ingress_url") if isinstance(state, dict) else None
    return url if isinstance(url, str) and url else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # No user name in the environment or the password database.
        return None
