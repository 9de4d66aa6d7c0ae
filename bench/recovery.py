"""Recovery after ``kill -9`` of the service under ``resilient-agents up``: warm standby versus a cold restart.

The real ``up`` runs the weather example (engine, service process, supervisor), with the service talking to a
scripted model served by this process instead of the offline demo model, because the bench must hold a model
call: each round sends a turn, the model answers the first call (ask for ``get_weather``), the tool runs, and
the model *holds* the second call. Then the bench ``kill -9``\\ s the service process named by
``<data-dir>/up.json`` (``service_pid``) and releases the held call (its answer goes to a dead attempt). The
supervisor of ``up`` restarts the service, Restate retries the invocation, the model answers the repeated
second call, and the turn's answer arrives on an ``attach`` opened before the kill. Measured per kill:

* ``back``: kill -> the service port accepts connections again;
* ``answer``: kill -> the answer arrives on the attach.

Two variants, one ``up`` each, in the same run: ``standby`` (``ServiceProcess(standby=True)``: a warm spare
that already imported the app is promoted) and ``cold`` (a new Python process imports the app, the Agents SDK
included). The bench runs ``up`` through ``python -m bench.recovery --as-up on|off``, which sets the flag on
the ``ServiceProcess`` that ``up`` builds and otherwise runs ``resilient-agents up`` unchanged. Before each
standby kill it waits until the new spare has finished importing (the steady state). The last line is
``recovery: standby median <s> max <s>; cold median <s> max <s>; cold/standby <ratio>`` (answer times).

Run it::

    scripts/bench recovery           # or: .venv/bin/python -m bench.recovery --kills 10
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

from bench._cli import BenchError, non_negative_float, non_negative_int, positive_int, progress, run_main
from bench._common import machine_note, median
from resilient_agents.engine import binary_version, find_restate_server, pick_free_port
from resilient_agents.engine._supervise import RestartPolicy
from resilient_agents.engine.ports import port_accepts
from resilient_agents.models import ModelServer, ParsedRequest, Reply
from resilient_agents.models.request import Responder

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is the weather in Detroit?"
AS_UP = "--as-up"
LAST_LINE_PREFIX = "recovery:"
STANDBY_LINE = "resilient-agents serve: standby pid "
PROMOTED_LINE = " promoted, serving "


class HeldWeatherModel(Responder):
    """Asks for ``get_weather``, then answers; when armed, holds the next answer until released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self.held = threading.Event()
        self.release = threading.Event()
        self.first_calls = 0
        self.last_request_at = 0.0

    def arm(self) -> None:
        """Hold the next second call of a turn (the one after the tool ran)."""
        with self._lock:
            self._armed = True
            self.held.clear()
            self.release.clear()

    def respond(self, request: ParsedRequest) -> Reply:
        outputs = request.trailing_tool_outputs()
        self.last_request_at = time.perf_counter()
        if not outputs:
            with self._lock:
                self.first_calls += 1
            return Reply.call("get_weather", city="Detroit")
        with self._lock:
            hold, self._armed = self._armed, False
        if hold:
            self.held.set()
            self.release.wait(timeout=300)
            return Reply.say("too late: the attempt that asked is gone")
        return Reply.say(f"In Detroit: {outputs[-1].text}")


@dataclasses.dataclass
class Kill:
    """One kill: seconds from ``kill -9`` until the service is back, the turn resumed and the answer arrived."""

    back: float
    """Until ``up.json`` names the new service process and its port accepts connections."""
    resumed: float
    """Until the repeated model call reached the model (the engine's retry ran on the new process)."""
    answer: float
    """Until the turn's answer arrived on the attach."""


class UpRun:
    """One ``resilient-agents up --app weather`` (through ``--as-up``) on free ports and a fresh data dir."""

    def __init__(self, standby: bool, data_dir: Path, model_url: str, *, bytecode: bool = True) -> None:
        self.standby = standby
        self.data_dir = data_dir
        used: set[int] = set()
        for _ in range(4):
            used.add(pick_free_port(avoid=used))
        self.ingress_port, self.admin_port, self.node_port, self.service_port = sorted(used)
        self.ingress = f"http://127.0.0.1:{self.ingress_port}"
        self.lines: list[str] = []
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "OPENAI_API_KEY": "bench-key-not-secret",
            "OPENAI_BASE_URL": model_url,
            "RESILIENT_AGENTS_API": "responses",
            "RESILIENT_AGENTS_MODEL": "scripted",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            "WEATHER_API_DELAY": "0",
        }
        if not bytecode:
            # An empty cache directory instead of the __pycache__ folders: every import compiles its source, as
            # on an install without compiled bytecode (PYTHONDONTWRITEBYTECODE keeps it empty).
            env["PYTHONPYCACHEPREFIX"] = str(data_dir / "empty-pycache")
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.recovery", AS_UP, "on" if standby else "off",
             # One worker: the kill must hit the process that holds the turn (service_pid).
             "up", "--app", "weather", "--workers", "1", "--data-dir", str(data_dir),
             "--ingress-port", str(self.ingress_port), "--admin-port", str(self.admin_port),
             "--node-port", str(self.node_port), "--service-port", str(self.service_port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self) -> None:
        """Wait until ``up`` printed its ready line."""
        _wait(
            lambda: any(line.startswith("ready:") for line in self.lines) or self.process.poll() is not None,
            180,
            "up to start",
        )
        if self.process.poll() is not None:
            raise BenchError("up exited:\n" + "\n".join(self.lines[-30:]))

    def service_pid(self) -> int:
        """The serving process, from ``up.json``."""
        state = json.loads((self.data_dir / "up.json").read_text())
        return int(state["service_pid"])

    def spare_warm(self) -> bool:
        """True when a spare has imported the app and waits (more standby lines than promotions in the log)."""
        try:
            log = (self.data_dir / "logs" / "service.log").read_text()
        except FileNotFoundError:
            return False
        return log.count(STANDBY_LINE) > log.count(PROMOTED_LINE)

    def stop(self) -> None:
        """Ctrl-C ``up`` (it stops everything it started)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _wait(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def one_turn(run: UpRun, client: httpx.Client) -> None:
    """A turn without a kill (warm-up), checked."""
    response = client.post(f"{run.ingress}/Agent/run", json=QUESTION)
    if response.status_code != 200 or "Detroit" not in response.text:
        raise BenchError(f"warm-up turn failed: {response.status_code} {response.text[:200]}")


def one_kill(run: UpRun, model: HeldWeatherModel, client: httpx.Client, not_before: float) -> Kill:
    """Send a turn, hold its second model call, kill -9 the service (not before ``not_before``), time it."""
    if run.standby:
        _wait(run.spare_warm, 120, "the spare to import the app")
    model.arm()
    first_calls = model.first_calls
    invocation = client.post(f"{run.ingress}/Agent/run/send", json=QUESTION).json()["invocationId"]
    if not model.held.wait(timeout=120):
        raise BenchError("the turn never reached its second model call")
    answer: dict[str, object] = {}

    def attach() -> None:
        response = client.get(f"{run.ingress}/restate/invocation/{invocation}/attach", timeout=120)
        answer["at"] = time.perf_counter()
        answer["response"] = response

    attacher = threading.Thread(target=attach, daemon=True)
    attacher.start()
    time.sleep(0.05)  # Let the attach request reach the engine (it only waits; no timing depends on it).
    pid = run.service_pid()
    # A crash soon after the last one meets the supervisor's crash-loop backoff; independent crashes do not.
    time.sleep(max(0.0, not_before - time.monotonic()))
    os.kill(pid, signal.SIGKILL)
    killed = time.perf_counter()
    model.release.set()
    _wait(lambda: run.service_pid() != pid, 120, "up to restart the service", interval=0.0005)
    _wait(lambda: port_accepts("127.0.0.1", run.service_port, timeout=0.2), 120, "the service to come back")
    back = time.perf_counter()
    attacher.join(timeout=120)
    response = answer.get("response")
    if not isinstance(response, httpx.Response) or response.status_code != 200 or "Detroit" not in response.text:
        raise BenchError(f"the turn did not complete after the kill: {response!r}")
    if model.first_calls != first_calls + 1:
        raise BenchError("the finished first model call was asked again after the kill")
    if run.service_pid() == pid:
        raise BenchError("up.json still names the killed service")
    at = answer["at"]
    assert isinstance(at, float)
    return Kill(back=back - killed, resumed=model.last_request_at - killed, answer=at - killed)


def measure(standby: bool, args: argparse.Namespace, base_dir: Path, model: HeldWeatherModel, url: str) -> list[Kill]:
    """Start ``up`` (standby or cold), run the warm-up turns, then the timed kills; stop ``up``."""
    name = "standby" if standby else "cold"
    kills, warmup, spacing = args.kills, args.warmup, args.spacing
    run = UpRun(standby, base_dir / name, url, bytecode=not args.no_bytecode)
    try:
        started = time.perf_counter()
        run.wait_ready()
        progress(f"{name}: up ready in {time.perf_counter() - started:.1f} s")
        results: list[Kill] = []
        with httpx.Client(timeout=httpx.Timeout(120.0, connect=5.0)) as client:
            for _ in range(warmup):
                one_turn(run, client)
            not_before = 0.0
            for number in range(1, kills + 1):
                kill = one_kill(run, model, client, not_before)
                not_before = time.monotonic() + spacing
                results.append(kill)
                progress(
                    f"{name} kill {number}/{kills}: back {kill.back:.3f} s, resumed {kill.resumed:.3f} s, "
                    f"answer {kill.answer:.3f} s"
                )
        return results
    except BaseException:
        sys.stderr.write("\n".join(run.lines[-40:]) + "\n")
        raise
    finally:
        run.stop()


def report_lines(results: dict[str, list[Kill]]) -> Iterator[str]:
    """The table; the last line is the ``recovery:`` summary."""
    columns = ("back", "resumed", "answer")
    yield f"{'variant':<8} {'kills':>5} " + " ".join(f"{f'{c} median':>14} {f'{c} max':>11}" for c in columns)
    for name, kills in results.items():
        cells = []
        for column in columns:
            samples = [getattr(k, column) for k in kills]
            cells.append(f"{median(samples):>13.3f}s {max(samples):>10.3f}s")
        yield f"{name:<8} {len(kills):>5} " + " ".join(cells)
    yield (
        "(seconds after kill -9: back = up restarted the service and its port accepts; resumed = the engine's retry "
        "reached the model again; answer = the turn's answer arrived)"
    )
    parts = [f"{name} median {median([k.answer for k in ks]):.3f}s max {max(k.answer for k in ks):.3f}s"
             for name, ks in results.items()]  # fmt: skip
    if "standby" in results and "cold" in results:
        ratio = median([k.answer for k in results["cold"]]) / median([k.answer for k in results["standby"]])
        parts.append(f"cold/standby {ratio:.1f}x")
    yield f"{LAST_LINE_PREFIX} " + "; ".join(parts)


def header_lines(args: argparse.Namespace, isolated: bool) -> Iterator[str]:
    """What ran where."""
    yield (
        "recovery: kill -9 of the service under `resilient-agents up --app weather` while the turn's second model "
        "call is held; the answer arrives on an attach opened before the kill"
    )
    yield machine_note()
    binary = find_restate_server(ROOT)
    version = binary_version(binary) if binary is not None else None
    network = "loopback-only network namespace" if isolated else "plain loopback (no network namespace allowed)"
    yield f"engine: restate-server {version or '(unknown version)'}, single node, {network}"
    if args.no_bytecode:
        bytecode = "none (--no-bytecode: every import compiles its source)"
    else:
        bytecode = "as installed (__pycache__ read" + (
            ", not written)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ")"
        )
    yield (
        f"{args.kills} kills per variant after {args.warmup} warm-up turn(s), {args.spacing:g} s apart "
        f"(supervisor: restart at once, then backoff until the service stayed up {RestartPolicy().reset_after:g} s); "
        f"bytecode: {bytecode}"
    )
    yield "  standby  ServiceProcess(standby=True): a warm spare (app imported) is promoted"
    yield "  cold     ServiceProcess(standby=False): a new process imports the app (the Agents SDK included)"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recovery",
        description="Time kill -9 of the service under `up` -> the turn's answer: warm standby vs cold restart.",
    )
    parser.add_argument("--kills", type=positive_int, default=10, help="timed kills per variant (default 10)")
    parser.add_argument("--warmup", type=non_negative_int, default=1, help="plain turns before the kills (default 1)")
    parser.add_argument(
        "--spacing",
        type=non_negative_float,
        default=RestartPolicy().reset_after,
        help="seconds from one kill's answer to the next kill; below the supervisor's reset time (default "
        f"{RestartPolicy().reset_after:g}) the kills meet its crash-loop backoff",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="make `up` and its service compile every import from source (no compiled bytecode installed)",
    )
    parser.add_argument(
        "--only", choices=("standby", "cold"), default=None, help="run one variant only (default: both)"
    )
    parser.add_argument(
        "--base-dir", type=Path, default=None, help="keep the data dirs and logs of `up` here (default: temp)"
    )
    return parser.parse_args(argv)


def run_bench(args: argparse.Namespace, isolated: bool) -> None:
    """Start the model server, run both variants, print the report."""
    model = HeldWeatherModel()
    variants = [v for v in (True, False) if args.only is None or args.only == ("standby" if v else "cold")]
    with contextlib.ExitStack() as stack:
        base_dir = args.base_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-recovery-")))
        server = stack.enter_context(ModelServer(model))
        results = {
            ("standby" if standby else "cold"): measure(standby, args, base_dir, model, server.base_url)
            for standby in variants
        }
    for line in header_lines(args, isolated):
        print(line)
    print()
    for line in report_lines(results):
        print(line)


def as_up(standby: str, argv: Sequence[str]) -> int:
    """Run ``resilient-agents <argv>`` with ``standby`` forced on the service process that ``up`` builds."""
    from resilient_agents.cli import _up
    from resilient_agents.cli import main as cli_main
    from resilient_agents.engine import ServiceProcess

    def service(*args: object, **kwargs: object) -> ServiceProcess:
        kwargs["standby"] = standby == "on"
        return ServiceProcess(*args, **kwargs)  # type: ignore[arg-type]  # forwards what up passes

    # The one difference between the variants. (mypy: _up imports the name without re-exporting it.)
    _up.ServiceProcess = service  # type: ignore[attr-defined,assignment]
    return cli_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [AS_UP]:  # Already inside the bench's namespace: no second one.
        return as_up(args[1], args[2:])
    return run_main(args, _parse, run_bench)


if __name__ == "__main__":
    raise SystemExit(main())
