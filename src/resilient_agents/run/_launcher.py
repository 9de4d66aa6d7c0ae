"""Run a whole ``async def main()`` as one durable invocation. Private module; see :mod:`resilient_agents.run`.

The process that calls :func:`run_durably` is the client *and* the service: it serves ``main`` as the handler
``Run_<script>/main`` of a small Restate service (in-process, on hypercorn), registers it, sends the invocation
with an idempotency key of the command, prints the invocation id and waits for the result. When the process
dies (``kill -9``, a power cut) the invocation stays in the engine's journal; running the same command again
serves ``main`` at the same URL and re-attaches to the same invocation, so the engine replays ``main`` from
its journal: model calls and durable tools that finished are not repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import restate
from pydantic_core import to_jsonable_python

from resilient_agents._durable import fast_retry_policy
from resilient_agents.engine import EngineConfig, RestateServer, pick_free_port, register_deployment, serve_app
from resilient_agents.engine.admin import query
from resilient_agents.errors import ConfigurationError, EngineError, ResilientAgentsError

from ._state import EngineRecord, RunFile, RunRecord, command_id

MainFunction = Callable[[], Awaitable[Any]]
ADMIN_URL_ENV = "RESTATE_ADMIN_URL"
INGRESS_URL_ENV = "RESTATE_INGRESS_URL"
DATA_DIR_NAME = ".restate-run"
HANDLER = "main"
_HOST = "127.0.0.1"
_PREFIX = "resilient-agents run:"


class DurableRunError(ResilientAgentsError):
    """The durable invocation of ``main`` failed (``main`` raised, or the engine refused it)."""


@dataclasses.dataclass(frozen=True)
class RunTarget:
    """What to run durably and where its run's state lives."""

    main: MainFunction
    """The coroutine function run as the handler."""
    script: Path
    """The script, as an absolute path (names the service, the data dir and, with ``args``, the command)."""
    args: tuple[str, ...]
    """The script's arguments (``sys.argv[1:]``)."""
    data_dir: Path
    """Where ``run.json`` and, when we run the engine, its data and log live."""
    fresh: bool = False
    """Start a new invocation even when the last one of this command did not finish."""

    @property
    def service_name(self) -> str:
        return "Run_" + re.sub(r"[^A-Za-z0-9_]", "_", self.script.stem)

    @property
    def command(self) -> str:
        return command_id(self.script, self.args, getattr(self.main, "__qualname__", "main"), self.data_dir)


def default_data_dir(script: Path) -> Path:
    """``.restate-run/<script name>/`` next to the script: stable, so a re-run finds the journal and the ports."""
    return script.parent / DATA_DIR_NAME / script.stem


def run_durably(main: MainFunction, *, data_dir: str | os.PathLike[str] | None = None, fresh: bool = False) -> Any:
    """Run ``main()`` as one durable Restate invocation and return its result (as JSON-compatible data).

    The idempotency key comes from the script (``sys.argv[0]``) and its arguments: when an earlier run of the
    same command was killed, this re-attaches to its invocation, which resumes from its journal instead of
    starting over. Without ``RESTATE_ADMIN_URL`` and ``RESTATE_INGRESS_URL`` it runs a local ``restate-server``
    on ``data_dir`` (default ``.restate-run/<script name>/`` next to the script).

    Args:
        main: An ``async def main()`` taking no arguments (read ``sys.argv`` for the command line).
        data_dir: Where the run's state lives; keep it stable between runs.
        fresh: Start over with a new invocation even if the last run of this command did not finish.

    Returns:
        ``main()``'s return value, converted to JSON-compatible data (it travelled through the journal).

    Raises:
        DurableRunError: ``main`` failed (its exception's type and message are in the error).
        EngineError: The engine could not be started or reached.
    """
    if not inspect.iscoroutinefunction(main):
        raise ConfigurationError(f"run_durably needs an `async def` function, got {main!r}")
    with contextlib.suppress(RuntimeError):
        asyncio.get_running_loop()
        raise ConfigurationError("run_durably() runs its own event loop: call it outside async code")
    script = Path(sys.argv[0] if sys.argv and sys.argv[0] else inspect.getfile(main)).resolve()
    target = RunTarget(
        main=main,
        script=script,
        args=tuple(sys.argv[1:]),
        data_dir=Path(data_dir).resolve() if data_dir is not None else default_data_dir(script),
        fresh=fresh,
    )
    return launch(target)


def launch(target: RunTarget) -> Any:
    """Serve ``target.main``, invoke it (or re-attach to the unfinished invocation) and return its result."""
    state = RunFile.load(target.data_dir)
    engine = _Engine.open(target.data_dir, state)
    try:
        record = _current_record(state, target)
        state.save(target.data_dir)
        try:
            result = asyncio.run(_serve_and_invoke(target, engine, state, record))
        except KeyboardInterrupt:
            _say(
                f"interrupted; the invocation is kept: run the same command again to resume it ({record.invocation_id})"
            )
            raise
        return result
    finally:
        engine.close(target.data_dir, state)


def _current_record(state: RunFile, target: RunTarget) -> RunRecord:
    record = state.runs.get(target.command)
    if record is None:
        record = RunRecord()
    elif record.done or target.fresh:
        record = RunRecord(generation=record.generation + 1)
    state.runs[target.command] = record
    return record


def _idempotency_key(target: RunTarget, record: RunRecord) -> str:
    return f"{target.script.stem}-{target.command}-{record.generation}"


async def _serve_and_invoke(target: RunTarget, engine: _Engine, state: RunFile, record: RunRecord) -> Any:
    from resilient_agents.openai_agents import durable_app

    if state.service_port is None:
        state.service_port = pick_free_port(_HOST)
        state.save(target.data_dir)
    app = durable_app([_service(target)])
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve_app(
            app, _HOST, state.service_port, ready=ready.set_result, shutdown_trigger=stop.wait, handle_signals=False
        )
    )
    try:
        url = await _first(ready, server)
        # Blocking client call in a thread: the engine calls back into this event loop for discovery.
        await asyncio.to_thread(register_deployment, engine.admin_url, url, force=True, take_over=True)
        return await _invoke(target, engine, state, record)
    finally:
        stop.set()
        await server


async def _first(ready: asyncio.Future[str], server: asyncio.Task[None]) -> str:
    waiting: list[asyncio.Future[Any]] = [ready, server]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        server.result()  # Raises why the server could not start (e.g. the port is taken).
        raise EngineError("the script's service stopped before it was ready")
    return ready.result()


def _service(target: RunTarget) -> restate.Service:
    service = restate.Service(
        target.service_name,
        description=f"{target.script.name} run durably: the whole main() is one invocation.",
        invocation_retry_policy=fast_retry_policy(),
    )

    @service.handler(name=HANDLER)
    async def run_main(ctx: restate.Context, request: dict[str, Any]) -> Any:
        try:
            result = await target.main()
        except restate.TerminalError:
            raise
        except Exception as error:
            # A bug in main repeats on every retry: fail the invocation (as a plain run would), do not loop.
            traceback.print_exc()
            raise restate.TerminalError(f"{type(error).__name__}: {error}") from error
        return to_jsonable_python(result, fallback=repr)

    return service


async def _invoke(target: RunTarget, engine: _Engine, state: RunFile, record: RunRecord) -> Any:
    key = _idempotency_key(target, record)
    path = f"{target.service_name}/{HANDLER}"
    async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0), trust_env=False) as client:
        sent = await client.post(
            f"{engine.ingress_url}/{path}/send",
            json={"script": str(target.script), "args": list(target.args)},
            headers={"idempotency-key": key},
        )
        if sent.status_code >= 300:
            raise EngineError(f"the engine refused to start {path} (HTTP {sent.status_code}): {sent.text}")
        body = sent.json()
        invocation_id = str(body["invocationId"])
        resumed = body.get("status") == "PreviouslyAccepted"
        record.invocation_id = invocation_id
        state.save(target.data_dir)
        _say(
            f"{'re-attached to' if resumed else 'started'} invocation {invocation_id} ({path}, idempotency key {key}); "
            f"UI {engine.admin_url}/ui/"
        )
        if resumed:
            await asyncio.to_thread(_resume_if_paused, engine.admin_url, invocation_id)
        answer = await client.get(f"{engine.ingress_url}/restate/invocation/{invocation_id}/attach")
    record.done = True
    state.save(target.data_dir)
    if answer.status_code != 200:
        raise DurableRunError(f"invocation {invocation_id} failed: {_error_message(answer)}")
    return answer.json() if answer.content else None


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text


def _resume_if_paused(admin_url: str, invocation_id: str) -> None:
    """A run whose process stayed away longer than its retry policy lasts (about an hour) is paused: resume it."""
    rows = query(admin_url, f"SELECT status FROM sys_invocation WHERE id = '{invocation_id}'")
    if rows and rows[0].get("status") == "paused":
        httpx.patch(f"{admin_url}/invocations/{invocation_id}/resume", timeout=10.0, trust_env=False)
        _say(f"resumed the paused invocation {invocation_id}")


def _say(text: str) -> None:
    print(f"{_PREFIX} {text}", file=sys.stderr, flush=True)


# -- the engine ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Engine:
    """The engine a run talks to: configured by the environment, left running by a killed run, or started now."""

    ingress_url: str
    admin_url: str
    server: RestateServer | None = None
    """The engine this run started (stopped at the end)."""
    adopted_pid: int | None = None
    """An engine a killed earlier run left running (stopped at the end)."""

    @classmethod
    def open(cls, data_dir: Path, state: RunFile) -> _Engine:
        admin, ingress = os.environ.get(ADMIN_URL_ENV), os.environ.get(INGRESS_URL_ENV)
        if admin or ingress:
            if not (admin and ingress):
                raise ConfigurationError(f"set both {ADMIN_URL_ENV} and {INGRESS_URL_ENV}, or neither (to run one)")
            return cls(ingress_url=ingress.rstrip("/"), admin_url=admin.rstrip("/"))
        record = state.engine
        if record is not None and record.pid is not None and _is_restate_server(record.pid):
            engine = cls(
                ingress_url=f"http://{_HOST}:{record.ingress_port}",
                admin_url=f"http://{_HOST}:{record.admin_port}",
                adopted_pid=record.pid,
            )
            if _healthy(engine.admin_url):
                _say(f"using the engine (pid {record.pid}) an earlier run left running")
                return engine
        return cls._start(data_dir, state)

    @classmethod
    def _start(cls, data_dir: Path, state: RunFile) -> _Engine:
        record = state.engine
        config = EngineConfig(
            base_dir=data_dir / "engine",
            ingress_port=record.ingress_port if record else 0,
            admin_port=record.admin_port if record else 0,
            node_port=record.node_port if record else 0,
        )
        server = RestateServer(config, log_path=data_dir / "engine.log").start()
        used = server.config
        state.engine = EngineRecord(
            ingress_port=used.ingress_port, admin_port=used.admin_port, node_port=used.node_port, pid=server.pid
        )
        state.save(data_dir)
        return cls(ingress_url=server.ingress_url, admin_url=server.admin_url, server=server)

    def close(self, data_dir: Path, state: RunFile) -> None:
        """Stop the engine if this run owns it (started it, or took over a killed run's)."""
        if self.server is not None:
            self.server.stop()
        elif self.adopted_pid is not None:
            _terminate(self.adopted_pid)
        else:
            return
        if state.engine is not None:
            state.engine.pid = None
            state.save(data_dir)


def _healthy(admin_url: str) -> bool:
    try:
        return httpx.get(f"{admin_url}/health", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _is_restate_server(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        if cmdline.exists():
            return b"restate-server" in cmdline.read_bytes() and not _is_zombie(pid)
        os.kill(pid, 0)  # No /proc (macOS): the health check that follows confirms it is an engine.
        return True
    except (OSError, ProcessLookupError):
        return False


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _terminate(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_restate_server(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


# -- python -m resilient_agents.run ------------------------------------------------------------------------------


def load_main(script: Path, function: str = "main") -> MainFunction:
    """Import ``script`` (not as ``__main__``: its ``asyncio.run(main())`` guard must not fire) and return ``main``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("__durable_main__", script)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"cannot import {str(script)!r}: is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Dataclasses and pydantic models look their module up here.
    sys.path.insert(0, str(script.parent))  # As `python script.py` does: the script's siblings import.
    spec.loader.exec_module(module)
    found = getattr(module, function, None)
    if found is None or not inspect.iscoroutinefunction(found):
        raise ConfigurationError(f"{str(script)!r} has no `async def {function}()` to run durably")
    main: MainFunction = found
    return main


def cli(argv: Sequence[str] | None = None) -> int:
    """``python -m resilient_agents.run [options] script.py [args...]``; returns the exit code."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m resilient_agents.run",
        description="Run a script's `async def main()` as one durable Restate invocation; run the same command "
        "again after a crash to resume it.",
    )
    parser.add_argument(
        "--data-dir", type=Path, help=f"state of the run (default: {DATA_DIR_NAME}/<script>/ next to it)"
    )
    parser.add_argument("--function", default="main", help="the coroutine function to run (default: %(default)s)")
    parser.add_argument(
        "--fresh", action="store_true", help="start a new invocation even if the last one did not finish"
    )
    parser.add_argument("script", type=Path, help="the Python file")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (sys.argv[1:])")
    options = parser.parse_args(argv)
    script = options.script.resolve()
    sys.argv = [str(script), *options.args]
    try:
        main = load_main(script, options.function)
        target = RunTarget(
            main=main,
            script=script,
            args=tuple(options.args),
            data_dir=options.data_dir.resolve() if options.data_dir else default_data_dir(script),
            fresh=options.fresh,
        )
        launch(target)
    except ResilientAgentsError as error:
        _say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
