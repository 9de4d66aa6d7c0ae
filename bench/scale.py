"""Many sessions at once: throughput, latency and CPU per turn of ours against a plain Restate baseline.

Three phases, on one real ``restate-server`` in a loopback-only network namespace, against a model server in
its own process (``bench/apps/scale_model.py``) answering every request after ``--model-ms`` (200 by default):

* **load**: for each size in ``--sessions`` (100, 300, 1000), N sessions each send ``--messages`` messages,
  ``--in-flight`` at a time, in ``--rounds`` rounds (3) that interleave the variants so that load from elsewhere
  on the machine hits them alike: ``baseline`` (a plain Restate handler doing the same two model calls as
  ``ctx.run`` steps with ``httpx``, no agent code, served by processes of its own,
  ``bench/apps/scale_baseline_app.py``, in which nothing of this library runs), ``sdk`` (``session_object``,
  the Agents SDK path), ``loop`` (``loop_session_object``, the native loop) and ``plain``: the same agent on
  ``agents.Runner.run`` in one process without Restate (``bench/apps/scale_plain_sdk.py``; request bodies take
  the same short way as in our durable model calls), whose CPU per turn bounds what a durable runner on the
  Agents SDK can reach (printed below the table). One turn = 2 model
  calls + 1 tool. Printed: turns/s (median of the rounds), p50, p99, errors, and the CPU the service processes
  (all workers, from ``/proc/<pid>/stat``), the engine, and the model server with the load generator spent per
  turn, with each variant's ratio to the baseline of the same size.
* **memory**: the SDK path with ``--memory-sessions`` sessions (1,000 and 10,000) of one message each, the model
  answering at once: service RSS (all workers) and the engine's data size.
* **conversation**: one conversation of ``--conversation-turns`` turns (500) per path, the model answering at
  once: latency and bytes written at turns 1, 10, 100 and 500 (``SetState`` entries of the turn's journal, and
  the whole journal). :func:`measure_conversation` can be reused on any session object.

The service runs as ``--workers`` processes (default: the number of cores) sharing its port. The last line is
``scale ratio ours/baseline: <sdk> (Agents SDK path), <loop> (native loop)``: each path's turns/s over the
baseline's at 1000 sessions (the largest size measured).

Run it::

    scripts/bench scale                                   # everything: about 10 minutes on 2 cores
    scripts/bench scale --sessions 1000 --phases load     # just the headline number
    scripts/bench scale --workers 1                       # one service process, to compare
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench._cli import BenchError, non_negative_float, positive_int, progress, run_main
from bench._common import QUESTION, machine_note, median, percentile
from resilient_agents.engine import (
    EngineConfig,
    RestateServer,
    ServiceProcess,
    binary_version,
    query,
    register_deployment,
)
from resilient_agents.engine.process import engine_env_for_workers

ROOT = Path(__file__).resolve().parents[1]
APP = "bench.apps.scale_app:app"
BASELINE_APP = "bench.apps.scale_baseline_app:app"
VARIANTS = {"baseline": "Baseline", "sdk": "SdkSession", "loop": "LoopSession", "plain": ""}
"""Short name -> the Virtual Object it drives (handler ``message``): ``Baseline`` of ``scale_baseline_app``, the
others of ``scale_app``; ``plain`` is the Agents SDK without Restate (``bench/apps/scale_plain_sdk.py``)."""
EXPECTED_IN_ANSWER = "temperature_c"
"""In every answer: the model quotes the tool's output."""
LAST_LINE_PREFIX = "scale ratio ours/baseline:"
CONVERSATION_MARKS = (1, 10, 100, 500)
PHASES = ("load", "memory", "conversation")
_REQUEST_TIMEOUT = 600.0
"""Seconds one message may take before it counts as an error."""


class _Child:
    """A helper process of the bench that reads commands on its standard input and stops when it closes."""

    process: subprocess.Popen[str]

    def stop(self) -> None:
        """Close its input (it stops) and reap it."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ModelProcess(_Child):
    """The delayed model server (``bench/apps/scale_model.py``) in a child process: its CPU is its own.

    Args:
        delay_ms: How long it waits before answering each request.
    """

    def __init__(self, delay_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.apps.scale_model", "--delay-ms", str(delay_ms)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        word, _, url = self.process.stdout.readline().strip().partition(" ")
        if word != "ready":
            self.stop()
            raise BenchError(f"the model server did not start (exit code {self.process.poll()})")
        self.base_url = url
        """The OpenAI base URL, ``http://127.0.0.1:<port>/v1``."""

    def set_delay(self, delay_ms: float) -> None:
        """Change how long it waits before answering."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"delay {delay_ms}\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise BenchError("the model server did not take the new delay")


class PlainSdkProcess(_Child):
    """``agents.Runner.run`` without Restate (``bench/apps/scale_plain_sdk.py``) in a child process of its own."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.apps.scale_plain_sdk"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.stop()
            raise BenchError(f"the plain Agents SDK process did not start (exit code {self.process.poll()})")

    def run(self, turns: int, in_flight: int) -> tuple[list[float], int, str | None, float]:
        """Run ``turns`` turns, ``in_flight`` at a time: latencies, errors, first error, wall seconds."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"run {turns} {in_flight}\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or "{}")
        if "seconds" not in answer:
            raise BenchError(f"the plain Agents SDK process failed: {answer or 'it exited'}")
        return answer["latencies_ms"], answer["errors"], answer["first_error"], answer["seconds"]


# -- CPU and memory of processes ---------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICKS


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of ``pids`` in MB (VmRSS)."""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def dir_mb(path: Path) -> float:
    """Bytes under ``path`` in MB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# -- the load --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    """What one variant did at one size."""

    variant: str
    sessions: int
    turns: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    first_error: str | None
    service_cpu_s: float
    engine_cpu_s: float
    model_cpu_s: float
    """CPU of the model server process."""
    bench_cpu_s: float
    """CPU of this process (the load generator)."""
    round_rates: list[float] = dataclasses.field(default_factory=list)
    """Turns per second of each round (after :func:`merge_rounds`)."""

    @property
    def turns_per_s(self) -> float:
        """Completed turns per second: the median over the rounds, or of this run."""
        if self.round_rates:
            return median(self.round_rates)
        return (self.turns - self.errors) / self.seconds

    def cpu_ms_per_turn(self, cpu_s: float) -> float:
        """CPU milliseconds per completed turn."""
        return 1000.0 * cpu_s / max(1, self.turns - self.errors)


@dataclasses.dataclass
class Stack:
    """The running engine, service and model server."""

    engine: RestateServer
    service: ServiceProcess
    baseline: ServiceProcess
    """The plain-Restate baseline's own processes (no code of this library runs in them)."""
    model: ModelProcess
    plain: PlainSdkProcess
    base_dir: Path

    def service_pids(self, variant: str = "sdk") -> list[int]:
        """The processes serving ``variant`` (the workers, not the idle spare; the plain SDK's own process)."""
        if variant == "plain":
            return [self.plain.process.pid]
        return (self.baseline if variant == "baseline" else self.service).worker_pids

    def engine_pids(self) -> list[int]:
        """The restate-server process."""
        return [self.engine.pid] if self.engine.pid is not None else []


class _Connection:
    """One keep-alive HTTP/1.1 connection to the ingress, spoken by hand.

    The load generator must cost far less than what it measures: an ``httpx.AsyncClient`` with 200 connections
    spent 10-17 ms of CPU per request here (its pool bookkeeping), as much as the service under test.
    """

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; the status and the response body."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            if "chunked" in fields.get("transfer-encoding", ""):
                payload = b""
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    payload += (await reader.readexactly(size + 2))[:-2]
                await reader.readuntil(b"\r\n")
            else:
                payload = await reader.readexactly(int(fields.get("content-length", "0")))
            if fields.get("connection", "").lower() == "close":
                self.close()
            return status, payload
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _drive(
    url: str, keys: Sequence[str], messages: int, in_flight: int
) -> tuple[list[float], int, str | None, float]:
    """Send ``messages`` messages per session key, ``in_flight`` at a time; latencies, errors, first error, wall.

    ``in_flight`` connections each take the next session and send its messages one after the other.
    """
    target = httpx.URL(url)
    host, port, prefix = target.host, target.port or 80, target.path.rstrip("/")
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    body = json.dumps(QUESTION).encode()
    pending = iter(keys)

    async def worker() -> None:
        nonlocal errors, first_error
        connection = _Connection(host, port)
        try:
            for key in pending:
                for _ in range(messages):
                    started = time.perf_counter()
                    try:
                        status, payload = await asyncio.wait_for(
                            connection.post(f"{prefix}/{key}/message", body), _REQUEST_TIMEOUT
                        )
                        ok = status == 200 and EXPECTED_IN_ANSWER.encode() in payload
                        problem = None if ok else f"HTTP {status}: {payload[:300]!r}"
                    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                        problem = repr(error)
                    if problem is None:
                        latencies.append((time.perf_counter() - started) * 1000.0)
                    else:
                        errors += 1
                        first_error = first_error or problem
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(in_flight, len(keys)))))
    return latencies, errors, first_error, time.perf_counter() - started


def merge_rounds(rounds: Sequence[LoadResult]) -> LoadResult:
    """One result for several rounds of a variant at a size: median turns/s, pooled latencies, summed CPU."""
    first = rounds[0]
    return LoadResult(
        first.variant,
        first.sessions,
        sum(r.turns for r in rounds),
        sum(r.seconds for r in rounds),
        [ms for r in rounds for ms in r.latencies_ms],
        sum(r.errors for r in rounds),
        next((r.first_error for r in rounds if r.first_error), None),
        sum(r.service_cpu_s for r in rounds),
        sum(r.engine_cpu_s for r in rounds),
        sum(r.model_cpu_s for r in rounds),
        sum(r.bench_cpu_s for r in rounds),
        [r.turns_per_s for r in rounds],
    )


def run_load(stack: Stack, variant: str, sessions: int, *, messages: int, in_flight: int, tag: str) -> LoadResult:
    """Drive ``sessions`` sessions of ``variant`` and measure; keys are new (``<tag>-<i>``)."""
    url = f"{stack.engine.ingress_url}/{VARIANTS[variant]}"
    keys = [f"{tag}-{i}" for i in range(sessions)]
    service, engine = stack.service_pids(variant), stack.engine_pids()
    model, bench = [stack.model.process.pid], [os.getpid()]
    cpu_before, engine_before = cpu_seconds(service), cpu_seconds(engine)
    model_before, bench_before = cpu_seconds(model), cpu_seconds(bench)
    if variant == "plain":
        latencies, errors, first_error, seconds = stack.plain.run(sessions * messages, in_flight)
    else:
        latencies, errors, first_error, seconds = asyncio.run(_drive(url, keys, messages, in_flight))
    return LoadResult(
        variant,
        sessions,
        sessions * messages,
        seconds,
        latencies,
        errors,
        first_error,
        cpu_seconds(service) - cpu_before,
        cpu_seconds(engine) - engine_before,
        cpu_seconds(model) - model_before,
        cpu_seconds(bench) - bench_before,
    )


# -- memory ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MemoryPoint:
    """Service memory and engine data at a number of sessions."""

    sessions: int
    service_rss_mb: float
    engine_rss_mb: float
    engine_data_mb: float
    errors: int


def run_memory(stack: Stack, marks: Sequence[int], in_flight: int) -> list[MemoryPoint]:
    """Grow the SDK path to each of ``marks`` sessions (one message each, model at once); measure at each."""
    points: list[MemoryPoint] = []
    done = errors = 0
    for mark in sorted(marks):
        url = f"{stack.engine.ingress_url}/{VARIANTS['sdk']}"
        keys = [f"mem-{i}" for i in range(done, mark)]
        _, failed, first_error, seconds = asyncio.run(_drive(url, keys, 1, in_flight))
        errors += failed
        done = mark
        progress(f"memory: {mark} sessions ({len(keys)} new in {seconds:.0f} s, {failed} errors {first_error or ''})")
        points.append(
            MemoryPoint(
                mark,
                rss_mb(stack.service_pids()),
                rss_mb(stack.engine_pids()),
                dir_mb(stack.engine.config.base_dir),
                errors,
            )
        )
    return points


# -- one long conversation ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConversationTurn:
    """One measured turn of a long conversation."""

    turn: int
    latency_ms: float
    state_bytes: int
    """Bytes of the turn's ``SetState`` journal entries (what it wrote to the object's state)."""
    journal_bytes: int
    """Bytes of the turn's whole journal."""


def turn_bytes(admin_url: str, invocation_id: str) -> tuple[int, int]:
    """(state bytes, journal bytes) of an invocation: its ``SetState`` entries' sizes, and all entries' sizes."""
    rows = query(admin_url, f"SELECT entry_type, raw_length FROM sys_journal WHERE id = '{invocation_id}'")
    state = sum(int(r["raw_length"]) for r in rows if r["entry_type"] == "Command: SetState")
    return state, sum(int(r["raw_length"]) for r in rows)


def measure_conversation(
    ingress_url: str, admin_url: str, path: str, turns: int, marks: Sequence[int] = CONVERSATION_MARKS
) -> list[ConversationTurn]:
    """Send ``turns`` messages, one after the other, to ``path`` (``Object/key/message``); measure the ``marks``.

    Reusable against any session object whose ``message`` handler takes a JSON string: run it with an engine
    and a service of your own.

    Args:
        ingress_url: The engine's ingress.
        admin_url: The engine's admin API (for the journal sizes).
        path: e.g. ``SdkSession/long/message``.
        turns: How many turns.
        marks: Which turns to measure (1-based); those beyond ``turns`` are skipped.

    Returns:
        The measured turns, in order.

    Raises:
        BenchError: A turn failed.
    """
    measured: list[ConversationTurn] = []
    with httpx.Client(timeout=120.0) as client:
        for n in range(1, turns + 1):
            started = time.perf_counter()
            response = client.post(f"{ingress_url}/{path}", json=f"{QUESTION} (turn {n})")
            latency = (time.perf_counter() - started) * 1000.0
            if response.status_code != 200:
                raise BenchError(f"{path} turn {n} answered HTTP {response.status_code}: {response.text[:300]}")
            if n in marks:
                invocation = response.headers.get("x-restate-id", "")
                # The journal of a completed invocation is kept by the engine for a while: read it now.
                state, journal = turn_bytes(admin_url, invocation) if invocation else (0, 0)
                measured.append(ConversationTurn(n, latency, state, journal))
    return measured


# -- reporting -------------------------------------------------------------------------------------------------


def load_lines(results: Sequence[LoadResult]) -> Iterator[str]:
    """The load table: one row per size and variant, with ratios to the same size's baseline."""
    yield (
        f"{'sessions':>8} {'variant':<9} {'turns/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'svc CPU ms/turn':>15} {'engine CPU ms/turn':>18} {'model/load-gen CPU':>18} {'turns/s vs baseline':>19}"
    )
    baselines = {r.sessions: r for r in results if r.variant == "baseline"}
    for r in results:
        base = baselines.get(r.sessions)
        comparable = base and base.turns_per_s and r.variant != "plain"  # One process, no engine: CPU only.
        ratio = f"{r.turns_per_s / base.turns_per_s:.2f}" if comparable else "-"
        p50 = f"{median(r.latencies_ms):.0f}" if r.latencies_ms else "-"
        p99 = f"{percentile(r.latencies_ms, 0.99):.0f}" if r.latencies_ms else "-"
        cpu_pair = f"{r.cpu_ms_per_turn(r.model_cpu_s):.1f}/{r.cpu_ms_per_turn(r.bench_cpu_s):.1f}"
        yield (
            f"{r.sessions:>8} {r.variant:<9} {r.turns_per_s:>8.1f} {p50:>8} {p99:>8} {r.errors:>6} "
            f"{r.cpu_ms_per_turn(r.service_cpu_s):>15.1f} {r.cpu_ms_per_turn(r.engine_cpu_s):>18.1f} "
            f"{cpu_pair:>18} {ratio:>19}"
        )
    for r in results:
        if r.first_error:
            yield f"  first error ({r.variant}, {r.sessions} sessions): {r.first_error}"
    yield from floor_lines(results)


def floor_lines(results: Sequence[LoadResult]) -> Iterator[str]:
    """What the Agents SDK costs by itself, and the SDK path's best possible ratio that follows from it.

    Throughput is CPU-bound here, so turns/s go as 1 / (all CPU per turn). A durable SDK turn spends at least
    the plain SDK's CPU (``plain``) in the service, and the engine, model server and load generator at least
    what they spend on a baseline turn: the bound is the baseline's CPU per turn over that sum.
    """
    for size in sorted({r.sessions for r in results}):
        plain = next((r for r in results if r.variant == "plain" and r.sessions == size), None)
        base = next((r for r in results if r.variant == "baseline" and r.sessions == size), None)
        if plain is None or base is None:
            continue
        others = sum(base.cpu_ms_per_turn(cpu) for cpu in (base.engine_cpu_s, base.model_cpu_s, base.bench_cpu_s))
        base_total = base.cpu_ms_per_turn(base.service_cpu_s) + others
        plain_cpu = plain.cpu_ms_per_turn(plain.service_cpu_s)
        yield (
            f"  {size} sessions: the Agents SDK alone (Runner.run without Restate) spends {plain_cpu:.1f} ms CPU "
            f"per turn, the baseline {base_total:.1f} ms in all processes: the SDK path's ratio is at most "
            f"{base_total / (plain_cpu + others):.2f} even if durability cost nothing"
        )


def memory_lines(points: Sequence[MemoryPoint]) -> Iterator[str]:
    """Service RSS and engine data per number of sessions, with the ratio to the first point."""
    if not points:
        return
    yield f"{'sessions':>8} {'service RSS MB':>14} {'engine RSS MB':>13} {'engine data MB':>14} {'RSS vs first':>12}"
    first = points[0].service_rss_mb
    for p in points:
        yield (
            f"{p.sessions:>8} {p.service_rss_mb:>14.0f} {p.engine_rss_mb:>13.0f} {p.engine_data_mb:>14.1f} "
            f"{p.service_rss_mb / first:>12.2f}"
        )


def conversation_lines(paths: dict[str, list[ConversationTurn]]) -> Iterator[str]:
    """Latency and bytes written at the measured turns of each path's conversation."""
    yield f"{'path':<5} {'turn':>5} {'latency ms':>10} {'state bytes':>11} {'journal bytes':>13}"
    for name, turns in paths.items():
        for t in turns:
            yield f"{name:<5} {t.turn:>5} {t.latency_ms:>10.1f} {t.state_bytes:>11} {t.journal_bytes:>13}"


def ratio_line(results: Sequence[LoadResult]) -> str:
    """``scale ratio ours/baseline: <sdk> (Agents SDK path), <loop> (native loop)`` at the largest size measured.

    Each number is the path's turns/s over the baseline's at that size; a path that was not measured is left out.
    """
    base_sizes = {r.sessions for r in results if r.variant == "baseline"}
    ours = [(variant, label) for variant, label in _PATH_LABELS if any(r.variant == variant for r in results)]
    sizes = base_sizes & {r.sessions for r in results if r.variant in {variant for variant, _ in ours}}
    if not sizes:
        return f"{LAST_LINE_PREFIX} n/a (run the load phase with the baseline and the sdk or loop variant)"
    size = max(sizes)
    base = next(r for r in results if r.variant == "baseline" and r.sessions == size)
    parts = [
        f"{r.turns_per_s / base.turns_per_s:.2f} ({label})"
        for variant, label in ours
        for r in results
        if r.variant == variant and r.sessions == size
    ]
    return f"{LAST_LINE_PREFIX} {', '.join(parts)}"


_PATH_LABELS = (("sdk", "Agents SDK path"), ("loop", "native loop"))


# -- the command -----------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers of at least 1, got {text!r}")
    return values


def _names(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (comma-separated), got {text!r}")
        return values

    return parse


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(
        prog="scripts/bench scale",
        description="Many concurrent sessions: ours (SDK path, native loop) vs a plain Restate handler.",
    )
    parser.add_argument("--sessions", type=_sizes, default=[100, 300, 1000], help="sizes (default 100,300,1000)")
    parser.add_argument("--messages", type=positive_int, default=1, help="messages per session (default 1)")
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="rounds per size, variants interleaved (default 3)"
    )
    parser.add_argument("--in-flight", type=positive_int, default=200, help="concurrent requests (default 200)")
    parser.add_argument(
        "--model-ms", type=non_negative_float, default=200.0, help="model latency in the load phase (default 200)"
    )
    parser.add_argument(
        "--variants", type=_names(tuple(VARIANTS)), default=list(VARIANTS), help="default baseline,sdk,loop,plain"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=cores, help=f"service processes (default: the cores, {cores})"
    )
    parser.add_argument("--phases", type=_names(PHASES), default=list(PHASES), help="default load,memory,conversation")
    parser.add_argument(
        "--memory-sessions", type=_sizes, default=[1000, 10000], help="memory phase sizes (default 1000,10000)"
    )
    parser.add_argument(
        "--conversation-turns", type=positive_int, default=500, help="turns of the long conversation (default 500)"
    )
    parser.add_argument(
        "--http1",
        action="store_true",
        help="register the deployment with use_http_11 (request/response protocol) instead of HTTP/2",
    )
    parser.add_argument("--base-dir", type=Path, default=None, help="keep the engine's data and logs here")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; returns the process exit code."""
    return run_main(argv, _parse, run_bench)


def _start(stack: ExitStack, args: argparse.Namespace) -> Stack:
    base_dir = args.base_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-")))
    base_dir.mkdir(parents=True, exist_ok=True)
    model = ModelProcess(args.model_ms)
    stack.callback(model.stop)
    engine = RestateServer(
        EngineConfig(
            base_dir=base_dir / "restate",
            ingress_port=0,
            admin_port=0,
            node_port=0,
            extra_env=engine_env_for_workers(args.workers),
        ),
        log_path=base_dir / "engine.log",
    )
    stack.enter_context(engine)
    env = {
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    service = ServiceProcess(APP, workers=args.workers, cwd=ROOT, env=env, log_path=base_dir / "service.log")
    stack.enter_context(service)
    baseline = ServiceProcess(BASELINE_APP, workers=args.workers, cwd=ROOT, env=env, log_path=base_dir / "baseline.log")
    stack.enter_context(baseline)
    for deployment in (service, baseline):
        _register(engine.admin_url, deployment.url, http1=args.http1)
    plain = PlainSdkProcess(env)
    stack.callback(plain.stop)
    s = Stack(engine, service, baseline, model, plain, base_dir)
    patched = httpx.post(f"{engine.ingress_url}/Baseline/check/patched", timeout=30)
    if patched.status_code != 200 or patched.json() is not False:
        raise BenchError(f"the baseline must run the Restate SDK unchanged; it answered {patched.text[:200]}")
    return s


def _register(admin_url: str, url: str, *, http1: bool) -> None:
    if not http1:
        register_deployment(admin_url, url, force=True)
        return
    # Every invocation its own HTTP/1.1 request (request/response protocol): connections spread over workers,
    # but each step that needs the engine's answer ends the request and the next one replays the journal.
    response = httpx.post(f"{admin_url}/deployments", json={"uri": url, "force": True, "use_http_11": True}, timeout=30)
    if response.status_code >= 300:
        raise BenchError(f"registering over HTTP/1.1 failed: HTTP {response.status_code} {response.text[:300]}")


def run_bench(args: argparse.Namespace, isolated: bool) -> None:
    """Start everything, run the chosen phases, print the report."""
    with ExitStack() as stack:
        started = time.perf_counter()
        s = _start(stack, args)
        progress(f"engine and {args.workers} service worker(s) up in {time.perf_counter() - started:.1f} s")
        _warm_up(s, args)
        results: list[LoadResult] = []
        if "load" in args.phases:
            for size in args.sessions:
                # Rounds interleave the variants (baseline, sdk, loop, baseline, ...): load from elsewhere on the
                # machine hits all of them alike.
                rounds: dict[str, list[LoadResult]] = {variant: [] for variant in args.variants}
                for round_no in range(args.rounds):
                    for variant in args.variants:
                        tag = f"{variant}-{size}-{round_no}"
                        result = run_load(s, variant, size, messages=args.messages, in_flight=args.in_flight, tag=tag)
                        progress(f"{variant} x {size}: {result.turns_per_s:.1f} turns/s, {result.errors} errors")
                        rounds[variant].append(result)
                results += [merge_rounds(rounds[variant]) for variant in args.variants]
        s.model.set_delay(0.0)
        points = run_memory(s, args.memory_sessions, args.in_flight) if "memory" in args.phases else []
        conversations: dict[str, list[ConversationTurn]] = {}
        if "conversation" in args.phases:
            for name in ("sdk", "loop"):
                conversations[name] = measure_conversation(
                    s.engine.ingress_url, s.engine.admin_url, f"{VARIANTS[name]}/long/message", args.conversation_turns
                )
                progress(f"conversation of {args.conversation_turns} turns done on the {name} path")
        lines = list(_report(s, args, isolated, results, points, conversations))
        for line in lines:
            print(line)
        if args.json is not None:
            args.json.write_text(
                json.dumps(
                    {
                        "load": [
                            {**dataclasses.asdict(r), "turns_per_s": r.turns_per_s, "latencies_ms": None}
                            for r in results
                        ],
                        "memory": [dataclasses.asdict(p) for p in points],
                        "conversation": {k: [dataclasses.asdict(t) for t in v] for k, v in conversations.items()},
                        "report": lines,
                    },
                    indent=2,
                )
            )


def _warm_up(s: Stack, args: argparse.Namespace) -> None:
    """A few turns per variant and worker first (imports, connection pools), not measured."""
    for variant in args.variants:
        result = run_load(s, variant, 4 * args.workers, messages=1, in_flight=4 * args.workers, tag=f"warm-{variant}")
        if result.errors:
            raise BenchError(f"warm-up of {variant} failed: {result.first_error}")
    progress("warm-up done")


def _report(
    s: Stack,
    args: argparse.Namespace,
    isolated: bool,
    results: Sequence[LoadResult],
    points: Sequence[MemoryPoint],
    conversations: dict[str, list[ConversationTurn]],
) -> Iterator[str]:
    yield "scale: concurrent sessions, one turn = 2 model calls + 1 tool"
    yield machine_note()
    yield engine_line_for(s, isolated)
    yield (
        f"service: {args.workers} worker process(es) on one port (SO_REUSEPORT), the baseline {args.workers} of its "
        f"own; {'HTTP/1.1 (request/response)' if args.http1 else 'HTTP/2'} deployments; model server in its own "
        f"process answering after {args.model_ms:g} ms (load phase), at once (memory, conversation)"
    )
    if results:
        yield ""
        yield (
            f"load: each session sends {args.messages} message(s), {args.in_flight} in flight, {args.rounds} rounds "
            "(turns/s: median of the rounds; p50/p99 over all); "
            "CPU = user+system of the service workers / of restate-server, per completed turn"
        )
        yield from load_lines(results)
    if points:
        yield ""
        yield "memory: SDK path sessions of one message each (after the load phase's sessions)"
        yield from memory_lines(points)
    if conversations:
        yield ""
        yield "one long conversation per path (the model answers at once; every turn calls the tool)"
        yield from conversation_lines(conversations)
    yield ""
    yield ratio_line(results)


def engine_line_for(s: Stack, isolated: bool) -> str:
    """The engine line of the report (as ``bench._cli.engine_line`` words it for an ``AgentTestEnv``)."""
    binary = s.engine.binary
    version = binary_version(binary) if binary is not None else None
    network = "loopback-only network namespace" if isolated else "plain loopback (no network namespace allowed)"
    return (
        f"engine: restate-server {version or '(unknown version)'}, single node, {network}, "
        f"{engine_env_for_workers(s.service.workers) or 'default invoker settings'}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
