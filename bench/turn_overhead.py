"""What durability costs per agent turn: plain ``Runner.run`` vs our ``DurableRunner`` vs Restate's own.

One turn is what a weather question takes: 2 model calls and 1 tool call, against a scripted model that answers
at once, so the numbers are the frameworks' and the engine's overhead alone. Three variants, measured in the same
run and interleaved round by round (plain, ours, restate-ext, plain, ...) so machine noise hits all of them:

* ``plain``: ``agents.Runner.run`` in this process with a plain ``function_tool``; not durable. Timed around
  ``Runner.run``.
* ``ours``: ``POST /Ours/run`` through the Restate ingress, served by ``agent_service`` (our ``DurableRunner``).
* ``restate-ext``: ``POST /ExtRunner/run``, served by ``restate.ext.openai.DurableRunner``.

The durable variants are timed around the HTTP call to the ingress and run on one real ``restate-server``
(``resilient_agents.testing.AgentTestEnv``) inside a loopback-only network namespace where the OS allows it.
The last line is ``overhead ratio ours/DurableRunner: <median ours / median restate-ext>``.

Run it::

    scripts/bench                    # or: .venv/bin/python -m bench.turn_overhead --turns 100 --warmup 10
    scripts/bench --trace            # the same with OpenTelemetry on (engine and service export to a local sink)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

from agents import Agent, OpenAIProvider, RunConfig, Runner, function_tool
from openai import AsyncOpenAI

from bench._cli import (
    BenchError,
    engine_line,
    non_negative_int,
    positive_int,
    progress,
    run_main,
)
from bench._common import (
    AGENT_NAME,
    EXT_SERVICE,
    INSTRUCTIONS,
    MODEL_NAME,
    QUESTION,
    WeatherTurnResponder,
    machine_note,
    median,
    percentile,
    weather_report,
)
from bench._otlp_sink import OtlpSink
from resilient_agents.models import ModelServer
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[1]
APP = "bench.apps.turn_overhead_app:app"
EXPECTED_IN_ANSWER = ('"city": "Detroit"', '"temperature_c": 22')
LAST_LINE_PREFIX = "overhead ratio ours/DurableRunner:"


@dataclasses.dataclass(frozen=True)
class Turn:
    """One measured turn."""

    seconds: float
    """Wall time of the turn."""
    invocation_id: str | None
    """The Restate invocation id (durable variants only)."""


@dataclasses.dataclass
class Variant:
    """One way of running the turn, and what it measured."""

    key: str
    """Short name in the table."""
    what: str
    """What runs, and what it journals."""
    run_turn: Callable[[], Turn]
    """Runs one turn and times it."""
    samples: list[float] = dataclasses.field(default_factory=list)
    """Measured turns, in milliseconds."""
    first_invocation: str | None = None
    """The first invocation's id, for reading back its journal."""


# -- the variants ----------------------------------------------------------------------------------------------


@function_tool
async def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name.
    """
    return weather_report(city)


def plain_variant(runner: asyncio.Runner, server: ModelServer) -> Variant:
    """``agents.Runner.run`` in this process, against its own in-process scripted model server."""
    agent = Agent(name=AGENT_NAME, instructions=INSTRUCTIONS, tools=[get_weather])
    client = AsyncOpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
    config = RunConfig(
        model=MODEL_NAME,
        model_provider=OpenAIProvider(openai_client=client, use_responses=True),
        tracing_disabled=True,
    )

    async def turn() -> Turn:
        started = time.perf_counter()
        result = await Runner.run(agent, QUESTION, run_config=config)
        elapsed = time.perf_counter() - started
        _check_answer("plain", str(result.final_output))
        return Turn(elapsed, None)

    return Variant(
        "plain",
        "agents.Runner.run in the bench process, plain function_tool; not durable",
        lambda: runner.run(turn()),
    )


def durable_variant(env: AgentTestEnv, key: str, service: str, what: str) -> Variant:
    """``POST /<service>/run`` through the Restate ingress; timed around the HTTP call."""

    def turn() -> Turn:
        started = time.perf_counter()
        response = env.call(f"{service}/run", QUESTION)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise BenchError(f"{service}/run answered HTTP {response.status_code}: {response.text[:500]}")
        _check_answer(key, str(response.json()))
        return Turn(elapsed, response.headers.get("x-restate-id"))

    return Variant(key, what, turn)


def _check_answer(variant: str, answer: str) -> None:
    if not all(part in answer for part in EXPECTED_IN_ANSWER):
        raise BenchError(f"{variant}: the answer does not quote the tool's output: {answer[:300]!r}")


# -- measuring -------------------------------------------------------------------------------------------------


def measure(variants: Sequence[Variant], *, turns: int, warmup: int, progress: Callable[[str], None]) -> None:
    """Run ``warmup`` then ``turns`` rounds; each round runs every variant once, in order."""
    for round_no in range(warmup + turns):
        for variant in variants:
            turn = variant.run_turn()
            if variant.first_invocation is None:
                variant.first_invocation = turn.invocation_id
            if round_no >= warmup:
                variant.samples.append(turn.seconds * 1000.0)
        if round_no + 1 == warmup:
            progress(f"warm-up done ({warmup} turns per variant)")
    progress(f"measured {turns} turns per variant")


def journal_steps(env: AgentTestEnv, invocation_id: str) -> list[str]:
    """The named ``run`` steps of an invocation, in journal order (each step appears once)."""
    return [e.name for e in env.journal(invocation_id) if e.name and e.entry_type.startswith("Command: Run")]


def check_model_requests(env: AgentTestEnv, plain_server: ModelServer, rounds: int) -> None:
    """Every turn must have cost exactly 2 model requests, in every variant."""
    durable, plain = env.llm_requests(), len(plain_server.requests)
    if durable != 4 * rounds or plain != 2 * rounds:
        raise BenchError(
            f"expected 2 model requests per turn: the durable variants made {durable} in {2 * rounds} turns, "
            f"plain made {plain} in {rounds}"
        )


# -- reporting -------------------------------------------------------------------------------------------------


def report_lines(variants: Sequence[Variant]) -> Iterator[str]:
    """The table and the summary; the last line is the ``overhead ratio`` line."""
    by_key = {v.key: v for v in variants}
    plain, ours, ext = (median(by_key[k].samples) for k in ("plain", "ours", "restate-ext"))
    yield f"{'variant':<12} {'median ms':>10} {'p90 ms':>9} {'vs plain':>9} {'vs restate-ext':>15}"
    for v in variants:
        mid = median(v.samples)
        yield f"{v.key:<12} {mid:>10.2f} {percentile(v.samples, 0.9):>9.2f} {mid / plain:>9.2f} {mid / ext:>15.2f}"
    yield ""
    yield (
        f"added per turn over plain (medians): ours {ours - plain:.2f} ms, restate-ext {ext - plain:.2f} ms "
        f"(ratio of the added time: {(ours - plain) / (ext - plain):.2f})"
    )
    # The variants run in the same rounds, so per-round ratios cancel noise that hits a whole round.
    paired = median([o / e for o, e in zip(by_key["ours"].samples, by_key["restate-ext"].samples, strict=True)])
    yield f"ours / restate-ext, median of per-round ratios: {paired:.2f}"
    yield f"{LAST_LINE_PREFIX} {ours / ext:.2f}"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Time one agent turn (2 LLM calls + 1 tool): plain Runner.run vs ours vs restate.ext.openai.",
    )
    parser.add_argument("--turns", type=positive_int, default=100, help="measured turns per variant (default 100)")
    parser.add_argument("--warmup", type=non_negative_int, default=10, help="warm-up turns per variant (default 10)")
    parser.add_argument(
        "--base-dir", type=Path, default=None, help="keep the engine's data and the service log here (default: temp)"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="turn OpenTelemetry on: the engine and the service export every span to a local OTLP sink",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the process exit code."""
    return run_main(argv, _parse, run_bench)


def run_bench(args: argparse.Namespace, isolated: bool) -> None:
    """Start the engine, the service and the model servers, measure, print the report."""
    with ExitStack() as stack:
        base_dir = args.base_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-turn-")))
        started = time.perf_counter()
        sink = stack.enter_context(OtlpSink()) if args.trace else None
        env = stack.enter_context(
            AgentTestEnv(
                APP,
                base_dir,
                model=WeatherTurnResponder(),
                pythonpath=[ROOT],
                unchecked_services=[EXT_SERVICE],
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_SERVICE_NAME": "bench"} if sink else None,
                tracing_endpoint=f"http+json+otlp://{sink.url.removeprefix('http://')}" if sink else None,
            )
        )
        plain_server = stack.enter_context(ModelServer(WeatherTurnResponder()))
        runner = stack.enter_context(asyncio.Runner())
        progress(f"engine and service up in {time.perf_counter() - started:.1f} s")

        variants = [
            plain_variant(runner, plain_server),
            durable_variant(env, "ours", "Ours", "Ours/run: agent_service + our DurableRunner, durable_tool"),
            durable_variant(
                env,
                "restate-ext",
                EXT_SERVICE,
                "ExtRunner/run: restate.ext.openai.DurableRunner, durable_function_tool + ctx.run_typed",
            ),
        ]
        measure(variants, turns=args.turns, warmup=args.warmup, progress=progress)
        check_model_requests(env, plain_server, args.turns + args.warmup)
        for line in header_lines(env, variants, args, isolated):
            print(line)
        if sink is not None:
            print(f"tracing on: the engine and the service exported {sink.posts} OTLP requests to a local sink")
        print()
        for line in report_lines(variants):
            print(line)


def header_lines(
    env: AgentTestEnv, variants: Sequence[Variant], args: argparse.Namespace, isolated: bool
) -> Iterator[str]:
    """What ran where: the machine, the engine, the variants and what each journals per turn."""
    yield "turn overhead: one agent turn = 2 LLM calls + 1 tool, scripted model answering at once"
    yield machine_note()
    yield engine_line(env, isolated)
    yield (
        f"{args.turns} measured turns per variant after {args.warmup} warm-up turns each, "
        "interleaved round by round (plain, ours, restate-ext)"
    )
    for v in variants:
        steps = journal_steps(env, v.first_invocation) if v.first_invocation else []
        journal = f"; journal steps per turn: {', '.join(steps)}" if steps else ""
        yield f"  {v.key:<12} {v.what}{journal}"


if __name__ == "__main__":
    raise SystemExit(main())
