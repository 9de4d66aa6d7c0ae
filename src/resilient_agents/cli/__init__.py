"""The ``resilient-agents`` command: ``up``, ``chat``, ``status``, ``sessions``, ``approvals``.

Only ``up`` imports the app, the Agents SDK and the engine-serving code (inside the command); the other
commands talk to the engine over HTTP and start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from resilient_agents.errors import ConfigurationError, ResilientAgentsError

from ._approvals import add_approvals_parser
from ._apps import load_project, read_up_state, running_up_state
from ._headers import add_header_argument, caller_headers
from ._invocations import add_invocations_parser
from ._sessions import add_sessions_parser

if TYPE_CHECKING:
    from ._targets import ServiceInfo

__all__ = ["main"]

DEFAULT_INGRESS = "http://127.0.0.1:8080"
DEFAULT_ADMIN = "http://127.0.0.1:9070"
DEFAULT_SERVICE = "http://127.0.0.1:9080"
_APP_HELP = (
    "module:attribute of a Restate app (or module, for its attribute 'app'; or path/to/file.py:attribute), "
    "or a name from [tool.resilient-agents.apps.<name>] of the nearest pyproject.toml "
    "(default: [tool.resilient-agents] default-app)"
)


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
    _add_up_parser(sub)
    _add_chat_parser(sub)

    status = sub.add_parser("status", help="show the engine's health, services and invocations")
    status.add_argument("--admin", help=f"admin URL (default: from `up`, else {DEFAULT_ADMIN})")
    status.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    status.add_argument("--data-dir", type=Path, help="the data directory `up` uses (default: <project>/.restate)")
    status.set_defaults(func=_cmd_status)

    add_sessions_parser(sub)
    add_invocations_parser(sub)
    add_approvals_parser(sub)
    return parser


def _add_up_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser(
        "up",
        help="start the engine, the model (offline demo if no key) and an app's services",
        description="Start restate-server, the offline demo model (unless an API key is set) and APP's services; "
        "register them and print how to call every handler. Ctrl-C stops everything.",
    )
    up.add_argument("app", nargs="?", metavar="APP", help=_APP_HELP)
    up.add_argument("--app", dest="app_option", metavar="APP", help="the same as APP")
    up.add_argument("--data-dir", type=Path, help="engine data directory (default: <project>/.restate)")
    up.add_argument("--ingress-port", type=int, default=8080, help="Restate ingress port (default: %(default)s)")
    up.add_argument("--admin-port", type=int, default=9070, help="admin API and UI port (default: %(default)s)")
    up.add_argument("--node-port", type=int, default=5122, help="engine node port (default: %(default)s)")
    up.add_argument("--service-port", type=int, default=9080, help="the app's service port (default: %(default)s)")
    up.add_argument("--offline", action="store_true", help="use the offline demo model even if an API key is set")
    up.add_argument(
        "--no-standby",
        action="store_true",
        help="do not keep a warm spare service process (saves its memory; a killed service restarts cold)",
    )
    up.add_argument("--model", help="model name (default from RESILIENT_AGENTS_MODEL; ignored by the offline model)")
    up.add_argument(
        "--api", choices=["responses", "chat"], help="wire API of the model server (default from RESILIENT_AGENTS_API)"
    )
    up.add_argument("--trace", action="store_true", help="start a local trace viewer; engine and app send spans to it")
    up.add_argument("--trace-port", type=int, default=4318, help="trace viewer port, OTLP and web (default: 4318)")
    up.add_argument(
        "--cluster",
        type=_node_count,
        default=0,
        metavar="N",
        help="run the engine as a local Restate cluster of N nodes with a replicated log; node i listens on the "
        "base ports plus i (default: one node)",
    )
    up.add_argument(
        "--workers",
        type=_worker_count,
        default=0,
        metavar="N",
        help="service worker processes sharing the service port; a killed one is replaced (default: one per core)",
    )
    up.set_defaults(func=_cmd_up)


def _add_chat_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chat = sub.add_parser(
        "chat",
        help="send one message to an app's handler and print the answer",
        description="Send MESSAGE (as a JSON string) to a handler through the Restate ingress and print the answer. "
        "The handler: --to, else the app's `chat` setting, else the one Virtual Object with a `message` handler "
        "or the one service with `run` among the app's services (from `up`, else the admin API).",
    )
    chat.add_argument("message", nargs="?", help="the user message (omit it for a handler that takes no input)")
    chat.add_argument("--app", help=_APP_HELP.replace("(default: ", "(default: the running `up`'s, else "))
    chat.add_argument("--to", metavar="SERVICE[/HANDLER]", help="the service (or Virtual Object) and handler to call")
    chat.add_argument("--session", help="the key, for a Virtual Object (a session) or a Workflow")
    chat.add_argument("--idempotency-key", help="run the turn at most once for this key; repeats get its answer")
    chat.add_argument("--async", dest="is_async", action="store_true", help="do not wait; print the invocation id")
    chat.add_argument("--json", dest="as_json", action="store_true", help="print the raw JSON answer")
    chat.add_argument("--stream", action="store_true", help="print the model's text as it streams (stream=True apps)")
    chat.add_argument(
        "--service", help="the app's service URL, for --stream (default: from `up`, else http://127.0.0.1:9080)"
    )
    chat.add_argument("--ingress", help=f"ingress URL (default: from `up`, else {DEFAULT_INGRESS})")
    chat.add_argument(
        "--admin", help=f"admin URL, to find the app's services (default: from `up`, else {DEFAULT_ADMIN})"
    )
    chat.add_argument("--timeout", type=_positive_seconds, default=300.0, help="seconds to wait for the answer")
    add_header_argument(chat)
    chat.set_defaults(func=_cmd_chat)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def _worker_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 or more worker processes")
    return value


def _node_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of nodes") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a cluster needs at least 2 nodes (3 survives losing one)")
    return value


def _cmd_up(args: argparse.Namespace) -> int:
    if args.app and args.app_option and args.app != args.app_option:
        raise ConfigurationError(f"two apps given ({args.app!r} and --app {args.app_option!r}): give one")
    project = load_project()
    app = project.resolve(args.app or args.app_option)
    from ._up import UpOptions, run_up  # The heavy part (engine, model server, Agents SDK): only for `up`.

    options = UpOptions(
        app=app,
        project_dir=project.root,
        data_dir=(args.data_dir or project.data_dir).resolve(),
        ingress_port=args.ingress_port,
        admin_port=args.admin_port,
        node_port=args.node_port,
        service_port=args.service_port,
        offline=args.offline,
        model=args.model,
        api=args.api,
        trace=args.trace,
        trace_port=args.trace_port,
        cluster=args.cluster,
        standby=not args.no_standby,
        workers=args.workers,
    )
    return run_up(options)


def _cmd_chat(args: argparse.Namespace) -> int:
    from ._targets import resolve_target

    if args.stream and (args.is_async or args.as_json):
        print(
            "error: --stream prints the text as it comes; it cannot be combined with --async or --json", file=sys.stderr
        )
        return 2
    project = load_project()
    state = read_up_state(project.data_dir)
    ingress = args.ingress or os.environ.get("RESTATE_INGRESS_URL") or state.get("ingress_url") or DEFAULT_INGRESS
    found = resolve_target(project, args.app, args.to, args.admin, DEFAULT_ADMIN)
    target = found.target
    name = f"{target.service}/{target.handler}"
    keyed = target.keyed if target.keyed is not None else bool(args.session)
    if keyed and not args.session:
        print(f"error: {name} belongs to a Virtual Object (or Workflow): add --session KEY", file=sys.stderr)
        return 2
    if args.session and not keyed:
        print(f"error: {name} has no sessions (it is a stateless service handler); drop --session", file=sys.stderr)
        return 2
    if target.takes_input and args.message is None:
        print(f"error: {name} takes an input: give the message", file=sys.stderr)
        return 2
    path = target.path(args.session if keyed else None)
    if args.is_async or args.stream:
        path += "/send"
    headers = caller_headers(args.headers, args.session if keyed else None)
    if target.takes_input:
        headers["content-type"] = "application/json"
    if args.idempotency_key:
        headers["idempotency-key"] = args.idempotency_key
    content = json.dumps(args.message) if target.takes_input else None
    url = f"{ingress.rstrip('/')}/{path}"
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=args.timeout)
    except httpx.ConnectError:
        app = f" {found.app.name}" if found.app else " APP"
        print(
            f"error: cannot reach the Restate ingress at {ingress}; start the stack with `resilient-agents up{app}`",
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

        service = args.service or state.get("service_url") or DEFAULT_SERVICE
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


def _cmd_status(args: argparse.Namespace) -> int:
    from resilient_agents.engine.admin import query

    from ._targets import fetch_services
    from ._waiting import WAITING_SQL, describe_waiting

    state = running_up_state(args.data_dir or load_project().data_dir)
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
    services = fetch_services(admin)
    rows = query(admin, "SELECT status, count(*) AS n FROM sys_invocation GROUP BY status ORDER BY status")
    invocations = {str(r["status"]): int(r["n"]) for r in rows}
    waiting = query(admin, WAITING_SQL)
    report: dict[str, Any] = {
        "admin_url": admin,
        "ingress_url": state.get("ingress_url"),
        "ui_url": f"{admin}/ui/",
        "app": state.get("app"),
        "services": [service.name for service in services],
        "handlers": {service.name: [handler.name for handler in service.handlers] for service in services},
        "invocations": invocations,
        "retrying": waiting,
    }
    if args.as_json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"engine: healthy at {admin} (UI {admin}/ui/)")
    if report["app"]:
        print(f"app: {report['app']} (ingress {report['ingress_url']})")
    print(f"services: {', '.join(_describe(s) for s in services) or '(none registered)'}")
    counts = ", ".join(f"{k} {v}" for k, v in invocations.items()) or "none"
    print(f"invocations: {counts}")
    for row in waiting:
        print(f"  {describe_waiting(row)}")
    return 0


def _describe(service: ServiceInfo) -> str:
    kind = {"service": "", "virtual_object": "object ", "workflow": "workflow "}[service.kind]
    return f"{service.name} ({kind}{', '.join(h.name for h in service.handlers)})"
