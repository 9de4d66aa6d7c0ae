"""The ``resilient-agents`` command: ``up``, ``chat``, ``status``, ``sessions``, ``approvals``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from resilient_agents.errors import ConfigurationError, ResilientAgentsError

from ._approvals import add_approvals_parser
from ._apps import EXAMPLES, find_project_root, resolve_app
from ._invocations import add_invocations_parser
from ._sessions import add_sessions_parser
from ._up import STATE_FILE, UpOptions, run_up

__all__ = ["main"]

DEFAULT_INGRESS = "http://127.0.0.1:8080"
DEFAULT_ADMIN = "http://127.0.0.1:9070"
DEFAULT_SERVICE = "http://127.0.0.1:9080"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ConfigurationError as error:  # Wrong names or settings given by the user: a usage error.
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ResilientAgentsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resilient-agents", description="Durable LLM agents on the Restate engine.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start the engine, the model (offline demo if no key) and an app's services")
    up.add_argument("--app", default="weather", help=f"example name ({', '.join(EXAMPLES)}) or module:attribute")
    up.add_argument("--data-dir", type=Path, help="engine data directory (default: <project>/.restate)")
    up.add_argument("--ingress-port", type=int, default=8080, help="Restate ingress port (default: %(default)s)")
    up.add_argument("--admin-port", type=int, default=9070, help="admin API and UI port (default: %(default)s)")
    up.add_argument("--node-port", type=int, default=5122, help="engine node port (default: %(default)s)")
    up.add_argument("--service-port", type=int, default=9080, help="the app's service port (default: %(default)s)")
    up.add_argument("--offline", action="store_true", help="use the offline demo model even if an API key is set")
    up.add_argument("--model", help="model name (default from RESILIENT_AGENTS_MODEL; ignored by the offline model)")
    up.add_argument(
        "--api",
        choices=["responses", "chat", "messages"],
        help="wire API of the model server: OpenAI Responses, Chat Completions or Anthropic Messages "
        "(default from RESILIENT_AGENTS_API)",
    )
    up.set_defaults(func=_cmd_up)

    chat = sub.add_parser("chat", help="send one message to an app's agent and print the answer")
    chat.add_argument("message", help="the user message")
    chat.add_argument("--app", default="weather", help="example name or module:attribute")
    chat.add_argument("--session", help="session key (for apps whose agent is a Virtual Object)")
    chat.add_argument("--idempotency-key", help="run the turn at most once for this key; repeats get its answer")
    chat.add_argument("--async", dest="is_async", action="store_true", help="do not wait; print the invocation id")
    chat.add_argument("--json", dest="as_json", action="store_true", help="print the raw JSON answer")
    chat.add_argument("--stream", action="store_true", help="print the model's text as it streams (stream=True apps)")
    chat.add_argument(
        "--service", help="the app's service URL, for --stream (default: from `up`, else http://127.0.0.1:9080)"
    )
    chat.add_argument("--ingress", help=f"ingress URL (default: from `up`, else {DEFAULT_INGRESS})")
    chat.add_argument("--timeout", type=_positive_seconds, default=300.0, help="seconds to wait for the answer")
    chat.set_defaults(func=_cmd_chat)

    status = sub.add_parser("status", help="show the engine's health, services and invocations")
    status.add_argument("--admin", help=f"admin URL (default: from `up`, else {DEFAULT_ADMIN})")
    status.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    status.add_argument("--data-dir", type=Path, help="the data directory `up` uses (default: <project>/.restate)")
    status.set_defaults(func=_cmd_status)

    add_sessions_parser(sub)
    add_invocations_parser(sub)
    add_approvals_parser(sub)
    return parser


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def _cmd_up(args: argparse.Namespace) -> int:
    project = find_project_root()
    options = UpOptions(
        app=resolve_app(args.app),
        project_dir=project,
        data_dir=(args.data_dir or project / ".restate").resolve(),
        ingress_port=args.ingress_port,
        admin_port=args.admin_port,
        node_port=args.node_port,
        service_port=args.service_port,
        offline=args.offline,
        model=args.model,
        api=args.api,
    )
    return run_up(options)


def _up_state() -> dict[str, Any]:
    path = find_project_root() / ".restate" / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state


def _cmd_chat(args: argparse.Namespace) -> int:
    app = resolve_app(args.app)
    ingress = args.ingress or os.environ.get("RESTATE_INGRESS_URL") or _up_state().get("ingress_url") or DEFAULT_INGRESS
    if app.keyed and not args.session:
        print(f"error: app {app.name!r} keeps conversations per session: add --session KEY", file=sys.stderr)
        return 2
    if args.session and not app.keyed:
        print(
            f"error: app {app.name!r} has no sessions (its agent is a stateless service); drop --session",
            file=sys.stderr,
        )
        return 2
    if args.stream and (args.is_async or args.as_json):
        print(
            "error: --stream prints the text as it comes; it cannot be combined with --async or --json", file=sys.stderr
        )
        return 2
    path = f"{app.service}/{args.session}/{app.handler}" if app.keyed else f"{app.service}/{app.handler}"
    if args.is_async or args.stream:
        path += "/send"
    headers = {"content-type": "application/json"}
    if args.idempotency_key:
        headers["idempotency-key"] = args.idempotency_key
    url = f"{ingress.rstrip('/')}/{path}"
    try:
        response = httpx.post(url, content=json.dumps(args.message), headers=headers, timeout=args.timeout)
    except httpx.ConnectError:
        print(
            f"error: cannot reach the Restate ingress at {ingress}; "
            f"start the stack with `resilient-agents up --app {app.name}`",
            file=sys.stderr,
        )
        return 1
    except httpx.TimeoutException:
        print(f"error: no answer within {args.timeout:.0f}s; the turn goes on durably (see the UI)", file=sys.stderr)
        return 1
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        print(f"error: cannot call {url}: {error} (is --ingress a URL like {DEFAULT_INGRESS}?)", file=sys.stderr)
        return 1
    if args.stream and response.status_code < 300:
        from ._stream import print_stream

        service = args.service or _up_state().get("service_url") or DEFAULT_SERVICE
        invocation = response.json()["invocationId"]
        return print_stream(service, invocation, ingress_url=ingress, timeout=args.timeout)
    return _print_answer(response, args)


def _print_answer(response: httpx.Response, args: argparse.Namespace) -> int:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        message = body.get("message", body) if isinstance(body, dict) else body
        print(f"error: HTTP {response.status_code}: {message}", file=sys.stderr)
        return 1
    if args.as_json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    elif args.is_async:
        print(body.get("invocationId", body) if isinstance(body, dict) else body)
    else:
        print(body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))
    return 0


def _running_up_state(data_dir: Path | None) -> dict[str, Any]:
    """The state file of a running `up` (empty when there is none, or the `up` that wrote it is gone)."""
    path = (data_dir or find_project_root() / ".restate") / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    try:
        os.kill(pid, 0)  # Signal 0 only checks that the process exists.
    except ProcessLookupError:
        return {}  # Left behind by an `up` that was killed.
    except PermissionError:
        pass  # It exists, run by another user.
    return state


def _cmd_status(args: argparse.Namespace) -> int:
    from resilient_agents.engine import list_services, query

    from ._waiting import WAITING_SQL, describe_waiting

    state = _running_up_state(args.data_dir)
    admin = args.admin or os.environ.get("RESTATE_ADMIN_URL") or state.get("admin_url") or DEFAULT_ADMIN
    try:
        httpx.get(f"{admin}/health", timeout=3).raise_for_status()
    except (httpx.HTTPError, httpx.InvalidURL):
        if state and state.get("admin_url") == admin:
            # `up` is alive and supervises this engine: it is down for a moment, not gone.
            doing = (
                "up is restarting it"
                if state.get("engine_state") == "restarting"
                else "up restarts it when it exits (or it is still starting)"
            )
            print(
                f"engine: up is running (pid {state.get('pid')}) but the engine is not answering at {admin}; "
                f"{doing}. Its log: {state.get('logs')}/engine.log",
                file=sys.stderr,
            )
        else:
            print(f"engine: not reachable at {admin} (start it with `resilient-agents up`)", file=sys.stderr)
        return 1
    services = list_services(admin)
    rows = query(admin, "SELECT status, count(*) AS n FROM sys_invocation GROUP BY status ORDER BY status")
    invocations = {str(r["status"]): int(r["n"]) for r in rows}
    waiting = query(admin, WAITING_SQL)
    report: dict[str, Any] = {
        "admin_url": admin,
        "ingress_url": state.get("ingress_url"),
        "ui_url": f"{admin}/ui/",
        "app": state.get("app"),
        "services": services,
        "invocations": invocations,
        "retrying": waiting,
    }
    if args.as_json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"engine: healthy at {admin} (UI {admin}/ui/)")
    if report["app"]:
        print(f"app: {report['app']} (ingress {report['ingress_url']})")
    print(f"services: {', '.join(services) or '(none registered)'}")
    counts = ", ".join(f"{k} {v}" for k, v in invocations.items()) or "none"
    print(f"invocations: {counts}")
    for row in waiting:
        print(f"  {describe_waiting(row)}")
    return 0
