"""``resilient-agents approvals list | approve ID | reject ID``: decide what agents and workflows wait for.

Private module. ``list`` (and the id lookup of ``approve``/``reject``) reads the approvals of every tenant and
every approvals object (``Approvals``, ``<namespace>.Approvals``) from the engine's admin SQL; ``approve`` and
``reject`` send the decision over the ingress to the object's ``decide`` handler, which passes it to the waiting
code, or refuses it when the approval already ended ("too late: timed_out", "already approved by ana").
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from resilient_agents.access import APPROVER_TOKEN_ENV, APPROVER_TOKEN_HEADER
from resilient_agents.approvals import APPROVALS_OBJECT, DecidedApproval, DecideRequest
from resilient_agents.approvals._admin import ListedApproval, Location, list_pending, locate
from resilient_agents.errors import ConfigurationError, EngineError

DEFAULT_INGRESS = "http://127.0.0.1:8080"
DEFAULT_ADMIN = "http://127.0.0.1:9070"
_HTTP_TIMEOUT = 10.0
_TITLE_WIDTH = 48
_DESCRIPTION = "Requests that agents and workflows wait on until a person decides (or their timeout passes)."
_REFUSALS = (401, 403, 404, 409)
"""Statuses with which the approvals object refuses a decision; their message is the whole story."""


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
        The exit code: 0 on success; 1 when the engine is unreachable or answers with an error, when there is
        no such approval, or when the decision is refused because the approval already ended (timed out,
        decided by someone else, withdrawn). Bad usage exits through argparse (``SystemExit(2)``), as the main
        command does.
    """
    parser = argparse.ArgumentParser(prog="resilient-agents approvals", description=_DESCRIPTION)
    _add_commands(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _add_commands(parser: argparse.ArgumentParser) -> None:
    parser.description = _DESCRIPTION
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    listing = sub.add_parser("list", help="show the pending approvals of every tenant")
    listing.add_argument("--json", dest="as_json", action="store_true", help="print them as JSON")
    _add_scope(listing)
    _add_urls(listing, ingress=False)
    listing.set_defaults(func=cmd_list)

    for name in ("approve", "reject"):
        decide = sub.add_parser(name, help=f"{name} a pending request")
        decide.add_argument("id", metavar="ID", help="the approval id, exactly as `approvals list` shows it")
        decide.add_argument("--by", metavar="NAME", help="who decides (default: your user name)")
        decide.add_argument("--note", metavar="TEXT", help="a reason or comment for the requester")
        decide.add_argument(
            "--approver-token",
            metavar="TOKEN",
            help=f"the approver credential the deployment requires (default: ${APPROVER_TOKEN_ENV}); sent as "
            f"{APPROVER_TOKEN_HEADER}",
        )
        _add_scope(decide)
        _add_urls(decide, ingress=True)
        decide.set_defaults(func=cmd_decide, approved=name == "approve")


def _add_scope(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace",
        metavar="NS",
        help=f"only the approvals object NS.{APPROVALS_OBJECT} (default: {APPROVALS_OBJECT} and every "
        f"*.{APPROVALS_OBJECT})",
    )
    parser.add_argument("--tenant", metavar="KEY", help="only this tenant (the approvals object's key)")


def _add_urls(parser: argparse.ArgumentParser, *, ingress: bool) -> None:
    if ingress:
        parser.add_argument(
            "--ingress",
            metavar="URL",
            help=f"ingress URL (default: $RESTATE_INGRESS_URL, else from `up`, else {DEFAULT_INGRESS})",
        )
    parser.add_argument(
        "--admin",
        metavar="URL",
        help=f"admin API URL (default: $RESTATE_ADMIN_URL, else from `up`, else {DEFAULT_ADMIN})",
    )


def cmd_list(args: argparse.Namespace) -> int:
    """``approvals list``: print the pending approvals as a table (or JSON with ``--json``)."""
    try:
        pending = _list(_admin(args.admin), args.namespace, args.tenant)
    except _CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.as_json:
        entries = [{"registry": p.registry, "tenant": p.tenant, **p.approval.model_dump(mode="json")} for p in pending]
        print(json.dumps(entries, indent=2, ensure_ascii=False))
    else:
        print(render_table(pending, now_ms=int(time.time() * 1000)))
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    """``approvals approve|reject ID``: send the decision to the approvals object that holds ``ID``."""
    request = DecideRequest(id=args.id, approved=args.approved, by=args.by or _user(), note=args.note)
    try:
        where = _locate(_admin(args.admin), args.id, args.namespace, args.tenant)
        token = args.approver_token or os.environ.get(APPROVER_TOKEN_ENV)
        record = _decide(_ingress(args.ingress), where, request, token)
    except _CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{record.status} {record.id}: {record.title}")
    return 0


def render_table(pending: Sequence[ListedApproval], *, now_ms: int) -> str:
    """Format pending approvals as an aligned text table.

    The ``REGISTRY`` column (the approvals object) is shown only when some approval is not in ``Approvals``.

    Args:
        pending: The approvals, in the order to show.
        now_ms: The current time (Unix ms) that ages and deadlines are measured from.

    Returns:
        The table, or a one-line note when nothing is pending.
    """
    if not pending:
        return "no pending approvals"
    registries = any(p.registry != APPROVALS_OBJECT for p in pending)
    header = ("ID", *(("REGISTRY",) if registries else ()), "TENANT", "TITLE", "REQUESTED BY", "AGE", "EXPIRES IN")
    rows = [
        (
            p.approval.id,
            *((p.registry,) if registries else ()),
            p.tenant,
            _shorten(p.approval.title, _TITLE_WIDTH),
            p.approval.requested_by or "-",
            format_duration(max(0, now_ms - p.approval.created_at_ms)),
            _expires(p.approval.expires_at_ms, now_ms),
        )
        for p in pending
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    head = "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()
    return "\n".join([head, *lines])


def unknown_approval(approval_id: str, pending_ids: Sequence[str]) -> str:
    """The error for an id that is neither pending nor recently ended, naming close matches if there are any.

    Ids must match exactly: a prefix is not enough, since deciding the wrong request cannot be undone.
    """
    close = [i for i in pending_ids if approval_id and i.startswith(approval_id)]
    close += [i for i in difflib.get_close_matches(approval_id, pending_ids, n=5, cutoff=0.6) if i not in close]
    text = f"no approval {approval_id!r}; ids must match exactly."
    if close:
        text += f" Close matches: {', '.join(repr(i) for i in close[:5])}."
    return text + " `resilient-agents approvals list` shows the pending ones."


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


def _list(admin: str, namespace: str | None, tenant: str | None) -> list[ListedApproval]:
    try:
        return list_pending(admin, namespace=namespace, tenant=tenant)
    except (EngineError, ConfigurationError) as error:
        raise _CommandError(_admin_failure(admin, error)) from None


def _locate(admin: str, approval_id: str, namespace: str | None, tenant: str | None) -> Location:
    """The one place that knows ``approval_id`` (pending or recently ended)."""
    try:
        places = locate(admin, approval_id, namespace=namespace, tenant=tenant)
    except (EngineError, ConfigurationError) as error:
        raise _CommandError(_admin_failure(admin, error)) from None
    if not places:
        pending = _list(admin, namespace, tenant)
        raise _CommandError(unknown_approval(approval_id, [p.approval.id for p in pending]))
    if len(places) > 1:
        where = ", ".join(f"{p.registry}/{p.tenant}" for p in places)
        raise _CommandError(
            f"approval {approval_id!r} exists in several places ({where}); pass --tenant KEY (and --namespace NS)"
        )
    return places[0]


def _decide(ingress: str, where: Location, request: DecideRequest, token: str | None = None) -> DecidedApproval:
    path = f"{quote(where.registry, safe='')}/{quote(where.tenant, safe='')}/decide"
    extra = {APPROVER_TOKEN_HEADER: token} if token else {}
    response = _post(ingress, path, request.model_dump_json().encode(), extra)
    try:
        return DecidedApproval.model_validate_json(response.content)
    except ValidationError as error:
        raise _CommandError(f"unexpected answer from {where.registry}/{where.tenant}/decide: {error}") from None


def _admin_failure(admin: str, error: Exception) -> str:
    return (
        f"cannot read the approvals from the Restate admin API at {admin} ({error}); start the stack with "
        "`resilient-agents up` or pass --admin URL"
    )


def _post(ingress: str, path: str, body: bytes | None, extra_headers: dict[str, str] | None = None) -> httpx.Response:
    url = f"{ingress.rstrip('/')}/{path}"
    headers = {"content-type": "application/json"} if body is not None else {}
    headers.update(extra_headers or {})
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
    if response.status_code in _REFUSALS:
        raise _CommandError(_error_message(response))
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


def _admin(explicit: str | None) -> str:
    return explicit or os.environ.get("RESTATE_ADMIN_URL") or _up_url("admin_url") or DEFAULT_ADMIN


def _up_ingress() -> str | None:
    return _up_url("ingress_url")


def _up_url(name: str) -> str | None:
    """The URL ``name`` that ``resilient-agents up`` recorded for this project, if any."""
    from ._apps import DATA_DIR, find_project_root, read_up_state

    url = read_up_state(find_project_root() / DATA_DIR).get(name)
    return url if isinstance(url, str) and url else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # No user name in the environment or the password database.
        return None
