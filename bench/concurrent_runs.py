"""Concurrent runs in one handler: ``asyncio.gather`` of 5 agent runs versus a single run.

One run is the researcher agent answering a topic: an input guardrail that asks a ``Guard`` agent through a
nested run (beside the run's first model call, the SDK's default), a ``lookup(topic)`` tool call, and a final
answer, so 3 model calls, 2 of them one after the other. The scripted model
(:class:`bench._common.DelayedTopicResponder`) answers every request after ``--model-ms`` milliseconds (default
100), so a run takes about 2 model delays however fast the framework is; 5 runs gathered take about as long
when they really run at the same time and 5 times as long when they run one after another.

Each variant runs two kinds of invocation: ``1x`` (one topic) and ``5x`` (five topics gathered), interleaved
round by round (plain 1x, plain 5x, ours 1x, ours 5x, plain 1x, ...) so machine noise hits both:

* ``plain``: ``asyncio.gather`` of ``agents.Runner.run`` in this process, plain ``function_tool`` and a
  guardrail with a nested ``Runner.run``; not durable. Timed around the gather.
* ``ours``: ``POST /Fanout/research`` through the Restate ingress; one handler gathers ``DurableRunner.run``
  calls, each with a ``durable_tool`` and a guardrail with a nested ``DurableRunner.run``
  (``bench/apps/concurrent_runs_app.py``). Timed around the HTTP call; one real ``restate-server``
  (``resilient_agents.testing.AgentTestEnv``) in a loopback-only network namespace where the OS allows it.

Every invocation is checked: each run's answer, and exactly 3 model requests per run.
The last line is ``concurrent ratio 5 runs/1 run: <median ours 5x / median ours 1x>`` (target below 2).

Run it::

    scripts/bench concurrent         # or: .venv/bin/python -m bench.concurrent_runs --rounds 20 --model-ms 100
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
from typing import Any

from agents import (
    Agent,
    GuardrailFunctionOutput,
    OpenAIProvider,
    RunConfig,
    RunContextWrapper,
    Runner,
    function_tool,
    input_guardrail,
)
from openai import AsyncOpenAI

from bench._cli import (
    BenchError,
    engine_line,
    journal_summary,
    non_negative_int,
    positive_float,
    positive_int,
    progress,
    run_main,
)
from bench._common import (
    DEFAULT_MODEL_MS,
    GUARD_INSTRUCTIONS,
    GUARD_NAME,
    MODEL_NAME,
    RESEARCHER_INSTRUCTIONS,
    RESEARCHER_NAME,
    TOPICS,
    DelayedTopicResponder,
    machine_note,
    median,
    percentile,
    topic_facts,
    topic_summary,
)
from resilient_agents.models import ModelServer
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[1]
APP = "bench.apps.concurrent_runs_app:app"
KINDS = (1, len(TOPICS))
"""The invocation kinds, by number of gathered runs."""
MODEL_REQUESTS_PER_RUN = 3
"""The guardrail's model call and the researcher's two."""
LAST_LINE_PREFIX = "concurrent ratio"


@dataclasses.dataclass(frozen=True)
class Invocation:
    """One measured invocation (one gather of runs)."""

    seconds: float
    """Wall time of the invocation."""
    answers: list[str]
    """The runs' final outputs, in topic order."""
    invocation_id: str | None
    """The Restate invocation id (durable variant only)."""


@dataclasses.dataclass
class Variant:
    """One way of running the gathered runs, and what it measured."""

    key: str
    """Short name in the table."""
    what: str
    """What runs, and how."""
    run: Callable[[list[str]], Invocation]
    """Runs one invocation over these topics, and times it."""
    model_requests: Callable[[], int]
    """How many model requests this variant's model server has seen so far."""
    samples: dict[int, list[float]] = dataclasses.field(default_factory=lambda: {n: [] for n in KINDS})
    """Measured invocations in milliseconds, by number of runs."""
    first_invocation: dict[int, str] = dataclasses.field(default_factory=dict)
    """The first invocation id of each kind, for reading back its journal."""

    def run_checked(self, runs: int) -> Invocation:
        """Run one invocation of ``runs`` runs; check every answer and the number of model requests."""
        topics = list(TOPICS[:runs])
        before = self.model_requests()
        invocation = self.run(topics)
        made = self.model_requests() - before
        if made != MODEL_REQUESTS_PER_RUN * runs:
            raise BenchError(
                f"{self.key} {runs}x: {made} model requests, expected {MODEL_REQUESTS_PER_RUN * runs} "
                f"({MODEL_REQUESTS_PER_RUN} per run)"
            )
        expected = [topic_summary(t) for t in topics]
        if invocation.answers != expected:
            raise BenchError(f"{self.key} {runs}x: answers {invocation.answers!r}, expected {expected!r}")
        if invocation.invocation_id is not None:
            self.first_invocation.setdefault(runs, invocation.invocation_id)
        return invocation


# -- the variants ----------------------------------------------------------------------------------------------


def plain_researcher(config: RunConfig) -> Agent[Any]:
    """The researcher for ``Runner.run``: the same agents, tool and guardrail as the served app, not durable."""

    @function_tool(name_override="lookup")
    async def lookup(topic: str) -> str:
        """Look up facts about a topic.

        Args:
            topic: What to look up.
        """
        return topic_facts(topic)

    guard = Agent(name=GUARD_NAME, instructions=GUARD_INSTRUCTIONS)

    @input_guardrail
    async def polite(ctx: RunContextWrapper[Any], agent: Agent[Any], message: Any) -> GuardrailFunctionOutput:
        verdict = await Runner.run(guard, message, context=ctx.context, run_config=config)
        return GuardrailFunctionOutput(output_info=verdict.final_output, tripwire_triggered=False)

    return Agent(name=RESEARCHER_NAME, instructions=RESEARCHER_INSTRUCTIONS, tools=[lookup], input_guardrails=[polite])


def plain_variant(runner: asyncio.Runner, server: ModelServer) -> Variant:
    """``asyncio.gather`` of ``agents.Runner.run`` in this process, against its own delayed model server."""
    client = AsyncOpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
    config = RunConfig(
        model=MODEL_NAME,
        model_provider=OpenAIProvider(openai_client=client, use_responses=True),
        tracing_disabled=True,
    )
    researcher = plain_researcher(config)

    async def gathered(topics: list[str]) -> Invocation:
        started = time.perf_counter()
        results = await asyncio.gather(*(Runner.run(researcher, t, run_config=config) for t in topics))
        elapsed = time.perf_counter() - started
        return Invocation(elapsed, [str(r.final_output) for r in results], None)

    return Variant(
        "plain",
        "asyncio.gather of agents.Runner.run in the bench process, plain function_tool, guardrail with a "
        "nested Runner.run; not durable",
        lambda topics: runner.run(gathered(topics)),
        lambda: len(server.requests),
    )


def durable_variant(env: AgentTestEnv) -> Variant:
    """``POST /Fanout/research`` through the Restate ingress; timed around the HTTP call."""

    def invoke(topics: list[str]) -> Invocation:
        started = time.perf_counter()
        response = env.call("Fanout/research", topics, timeout=120)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise BenchError(f"Fanout/research answered HTTP {response.status_code}: {response.text[:500]}")
        return Invocation(elapsed, [str(a) for a in response.json()], response.headers.get("x-restate-id"))

    return Variant(
        "ours",
        "Fanout/research: one handler gathers DurableRunner.run calls (durable_tool, guardrail with a nested "
        "DurableRunner.run), one invocation",
        invoke,
        env.llm_requests,
    )


# -- measuring and reporting -----------------------------------------------------------------------------------


def measure(variants: Sequence[Variant], *, rounds: int, warmup: int) -> None:
    """Run ``warmup`` then ``rounds`` rounds; each round runs every variant's 1x then 5x invocation, in order."""
    for round_no in range(warmup + rounds):
        for variant in variants:
            for runs in KINDS:
                invocation = variant.run_checked(runs)
                if round_no >= warmup:
                    variant.samples[runs].append(invocation.seconds * 1000.0)
        if round_no + 1 == warmup:
            progress(f"warm-up done ({warmup} rounds)")
    progress(f"measured {rounds} rounds")


def report_lines(variants: Sequence[Variant], model_ms: float) -> Iterator[str]:
    """The table and the summary; the last line is the ``concurrent ratio`` line (ours)."""
    one, many = KINDS
    med = {(v.key, n): median(v.samples[n]) for v in variants for n in KINDS}
    yield (
        f"{'variant':<8} {f'{one}x median':>10} {f'{one}x p90':>8} {f'{many}x median':>10} {f'{many}x p90':>8} "
        f"{f'{many}x/{one}x':>7} {'paired':>7}"
    )
    for v in variants:
        a, b = med[(v.key, one)], med[(v.key, many)]
        # Both kinds run in the same round, so per-round ratios cancel noise that hits a whole round.
        paired = median([y / x for x, y in zip(v.samples[one], v.samples[many], strict=True)])
        yield (
            f"{v.key:<8} {a:>10.1f} {percentile(v.samples[one], 0.9):>8.1f} {b:>10.1f} "
            f"{percentile(v.samples[many], 0.9):>8.1f} {b / a:>7.2f} {paired:>7.2f}"
        )
    yield f"(paired: median of the per-round {many}x/{one}x ratios)"
    yield ""
    yield (
        f"model time alone: one run waits for 2 model answers in a row ({2 * model_ms:g} ms; the guardrail's "
        f"call runs beside the first); {many} runs one after another {2 * many * model_ms:g} ms, "
        f"all at once {2 * model_ms:g} ms"
    )
    for n in KINDS:
        yield (
            f"added over plain, {n}x (medians): ours {med[('ours', n)] - med[('plain', n)]:.1f} ms; "
            f"over the model time: plain {med[('plain', n)] - 2 * model_ms:.1f} ms, "
            f"ours {med[('ours', n)] - 2 * model_ms:.1f} ms"
        )
    yield f"{LAST_LINE_PREFIX} {many} runs/{one} run: {med[('ours', many)] / med[('ours', one)]:.2f}"


def header_lines(
    env: AgentTestEnv, variants: Sequence[Variant], args: argparse.Namespace, isolated: bool
) -> Iterator[str]:
    """What ran where: the machine, the engine, the variants and what one invocation journals."""
    yield (
        f"concurrent runs: one handler gathering {len(TOPICS)} agent runs vs 1 run; per run a guardrail (nested "
        f"run), a tool and 3 LLM calls; scripted model answering after {args.model_ms:g} ms"
    )
    yield machine_note()
    yield engine_line(env, isolated)
    yield (
        f"{args.rounds} measured rounds after {args.warmup} warm-up rounds; each round runs 1x then {len(TOPICS)}x "
        f"per variant, interleaved (plain, ours); every invocation checked: {MODEL_REQUESTS_PER_RUN} model requests "
        "per run, every run's answer"
    )
    for v in variants:
        yield f"  {v.key:<8} {v.what}"
        for runs, invocation in sorted(v.first_invocation.items()):
            yield f"  {'':<8}   journal of a {runs}x invocation: {journal_summary(env, invocation)}"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.concurrent_runs",
        description=(
            f"Time one handler gathering {len(TOPICS)} agent runs (guardrail + tool each) vs 1 run: "
            "plain Runner.run with asyncio.gather vs ours on the engine."
        ),
    )
    parser.add_argument("--rounds", type=positive_int, default=20, help="measured rounds (default 20)")
    parser.add_argument("--warmup", type=non_negative_int, default=2, help="warm-up rounds (default 2)")
    parser.add_argument(
        "--model-ms",
        type=positive_float,
        default=DEFAULT_MODEL_MS,
        help=f"how long the model takes to answer, ms (default {DEFAULT_MODEL_MS:g})",
    )
    parser.add_argument(
        "--base-dir", type=Path, default=None, help="keep the engine's data and the service log here (default: temp)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; returns the process exit code."""
    return run_main(argv, _parse, run_bench)


def run_bench(args: argparse.Namespace, isolated: bool) -> None:
    """Start the engine, the service and the model servers, measure, print the report."""
    delay = args.model_ms / 1000.0
    with ExitStack() as stack:
        base_dir = args.base_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-concurrent-")))
        started = time.perf_counter()
        env = stack.enter_context(AgentTestEnv(APP, base_dir, model=DelayedTopicResponder(delay), pythonpath=[ROOT]))
        plain_server = stack.enter_context(ModelServer(DelayedTopicResponder(delay)))
        runner = stack.enter_context(asyncio.Runner())
        progress(f"engine and service up in {time.perf_counter() - started:.1f} s")

        variants = [plain_variant(runner, plain_server), durable_variant(env)]
        measure(variants, rounds=args.rounds, warmup=args.warmup)
        for line in header_lines(env, variants, args, isolated):
            print(line)
        print()
        for line in report_lines(variants, args.model_ms):
            print(line)


if __name__ == "__main__":
    raise SystemExit(main())
