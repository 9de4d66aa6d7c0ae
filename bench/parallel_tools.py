"""Parallel tool calls: one model response asking for 5 slow tool calls, versus a single call.

A turn is 2 model calls around the tools: the scripted model (:class:`bench._common.ParallelToolsResponder`)
answers at once, first with N calls of ``slow_lookup(index)`` in ONE response, then, given their outputs, with a
text quoting all of them. ``slow_lookup`` takes ``--tool-ms`` milliseconds (``asyncio.sleep``, default 200).
Each variant runs two kinds of turn: ``1x`` (one call) and ``5x`` (five calls in one response). Run
concurrently, five calls cost about what one does; run one at a time, five times as much. Three variants,
measured in the same run and interleaved round by round (plain 1x, plain 5x, ours 1x, ours 5x, restate-ext 1x,
restate-ext 5x, plain 1x, ...) so machine noise hits all of them:

* ``plain``: ``agents.Runner.run`` in this process with a plain ``function_tool``; not durable. The SDK runs
  the calls of one response concurrently. Timed around ``Runner.run``.
* ``ours``: ``POST /Ours/run`` through the Restate ingress, served by ``agent_service`` (our ``DurableRunner``)
  with a ``durable_tool``; several calls in one response run concurrently, each one journaled step of the
  turn (``tool: slow_lookup``, ``tool: slow_lookup #2``, ...).
* ``restate-ext``: ``POST /ExtRunner/run``, served by ``restate.ext.openai.DurableRunner`` with a
  ``durable_function_tool`` whose body is a ``ctx.run_typed`` step; the integration runs the calls one at a time.

The durable variants are timed around the HTTP call to the ingress and run on one real ``restate-server``
(``resilient_agents.testing.AgentTestEnv``) inside a loopback-only network namespace where the OS allows it.
Every turn is checked: its answer quotes every tool output, and it cost exactly 2 model requests.
The last line is ``parallel ratio 5x<ms>ms/1x<ms>ms: <median ours 5x / median ours 1x>``.

Run it::

    .venv/bin/python -m bench.parallel_tools --rounds 15 --warmup 2 --tool-ms 200
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

from agents import Agent, FunctionTool, OpenAIProvider, RunConfig, Runner, function_tool
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
    EXT_SERVICE,
    MODEL_NAME,
    PARALLEL_AGENT_NAME,
    PARALLEL_CALLS,
    PARALLEL_INSTRUCTIONS,
    TOOL_MS_ENV,
    ParallelToolsResponder,
    lookup_question,
    lookup_result,
    machine_note,
    median,
    percentile,
)
from resilient_agents.models import ModelServer
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[1]
APP = "bench.apps.parallel_tools_app:app"
KINDS = (1, PARALLEL_CALLS)
"""The turn kinds, by number of tool calls in the model's one tool-calling response."""
MODEL_REQUESTS_PER_TURN = 2
LAST_LINE_PREFIX = "parallel ratio"


@dataclasses.dataclass(frozen=True)
class Turn:
    """One measured turn."""

    seconds: float
    """Wall time of the turn."""
    answer: str
    """The run's final output."""
    invocation_id: str | None
    """The Restate invocation id (durable variants only)."""


@dataclasses.dataclass
class Variant:
    """One way of running the turns, and what it measured."""

    key: str
    """Short name in the table."""
    what: str
    """What runs, and how it runs the tool calls."""
    run_turn: Callable[[int], Turn]
    """Runs one turn with that many tool calls, and times it."""
    model_requests: Callable[[], int]
    """How many model requests this variant's model server has seen so far."""
    samples: dict[int, list[float]] = dataclasses.field(default_factory=lambda: {n: [] for n in KINDS})
    """Measured turns in milliseconds, by number of tool calls."""
    first_invocation: dict[int, str] = dataclasses.field(default_factory=dict)
    """The first invocation id of each kind of turn, for reading back its journal."""

    def run_checked(self, calls: int) -> Turn:
        """Run one turn; check it made exactly 2 model requests and its answer quotes every tool output."""
        before = self.model_requests()
        turn = self.run_turn(calls)
        made = self.model_requests() - before
        if made != MODEL_REQUESTS_PER_TURN:
            raise BenchError(
                f"{self.key} {calls}x: the turn made {made} model requests, expected {MODEL_REQUESTS_PER_TURN}"
            )
        missing = [i for i in range(calls) if lookup_result(i) not in turn.answer]
        if missing:
            raise BenchError(
                f"{self.key} {calls}x: the answer lacks the output of call(s) {missing}: {turn.answer[:300]!r}"
            )
        if turn.invocation_id is not None:
            self.first_invocation.setdefault(calls, turn.invocation_id)
        return turn


# -- the variants ----------------------------------------------------------------------------------------------


def plain_tool(tool_seconds: float) -> FunctionTool:
    """The plain ``slow_lookup``: same schema, same output and duration as the served apps' tools."""

    @function_tool(name_override="slow_lookup")
    async def slow_lookup(index: int) -> str:
        """Look up one item (slow).

        Args:
            index: Which item.
        """
        await asyncio.sleep(tool_seconds)
        return lookup_result(index)

    return slow_lookup


def plain_variant(runner: asyncio.Runner, server: ModelServer, tool_seconds: float) -> Variant:
    """``agents.Runner.run`` in this process, against its own in-process scripted model server."""
    agent = Agent(name=PARALLEL_AGENT_NAME, instructions=PARALLEL_INSTRUCTIONS, tools=[plain_tool(tool_seconds)])
    client = AsyncOpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
    config = RunConfig(
        model=MODEL_NAME,
        model_provider=OpenAIProvider(openai_client=client, use_responses=True),
        tracing_disabled=True,
    )

    async def turn(calls: int) -> Turn:
        started = time.perf_counter()
        result = await Runner.run(agent, lookup_question(calls), run_config=config)
        elapsed = time.perf_counter() - started
        return Turn(elapsed, str(result.final_output), None)

    return Variant(
        "plain",
        "agents.Runner.run in the bench process, plain function_tool (the SDK runs the calls concurrently); "
        "not durable",
        lambda calls: runner.run(turn(calls)),
        lambda: len(server.requests),
    )


def durable_variant(env: AgentTestEnv, key: str, service: str, what: str) -> Variant:
    """``POST /<service>/run`` through the Restate ingress; timed around the HTTP call."""

    def turn(calls: int) -> Turn:
        started = time.perf_counter()
        response = env.call(f"{service}/run", lookup_question(calls))
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise BenchError(f"{service}/run answered HTTP {response.status_code}: {response.text[:500]}")
        return Turn(elapsed, str(response.json()), response.headers.get("x-restate-id"))

    return Variant(key, what, turn, env.llm_requests)


# -- measuring -------------------------------------------------------------------------------------------------


def measure(variants: Sequence[Variant], *, rounds: int, warmup: int, progress: Callable[[str], None]) -> None:
    """Run ``warmup`` then ``rounds`` rounds; each round runs every variant's 1x then 5x turn, in order."""
    for round_no in range(warmup + rounds):
        for variant in variants:
            for calls in KINDS:
                turn = variant.run_checked(calls)
                if round_no >= warmup:
                    variant.samples[calls].append(turn.seconds * 1000.0)
        if round_no + 1 == warmup:
            progress(f"warm-up done ({warmup} rounds)")
    progress(f"measured {rounds} rounds")


# -- reporting -------------------------------------------------------------------------------------------------


def report_lines(variants: Sequence[Variant], tool_ms: float) -> Iterator[str]:
    """The table and the summary; the last line is the ``parallel ratio`` line (ours)."""
    one, many = KINDS
    by_key = {v.key: v for v in variants}
    med = {(v.key, n): median(v.samples[n]) for v in variants for n in KINDS}
    yield (
        f"{'variant':<12} {f'{one}x median':>10} {f'{one}x p90':>8} {f'{many}x median':>10} {f'{many}x p90':>8} "
        f"{f'{many}x/{one}x':>7} {'paired':>7} {f'{many}x vs ours':>11}"
    )
    for v in variants:
        a, b = med[(v.key, one)], med[(v.key, many)]
        # Both kinds run in the same round, so per-round ratios cancel noise that hits a whole round.
        paired = median([y / x for x, y in zip(v.samples[one], v.samples[many], strict=True)])
        yield (
            f"{v.key:<12} {a:>10.1f} {percentile(v.samples[one], 0.9):>8.1f} {b:>10.1f} "
            f"{percentile(v.samples[many], 0.9):>8.1f} {b / a:>7.2f} {paired:>7.2f} {b / med[('ours', many)]:>11.2f}"
        )
    yield f"(paired: median of the per-round {many}x/{one}x ratios; {many}x vs ours: median / median of ours)"
    yield ""
    yield (
        f"tool time alone: {one} call {tool_ms:g} ms; {many} calls one after another {many * tool_ms:g} ms, "
        f"all at once {tool_ms:g} ms ({many}x/{one}x is near 1 when the calls run concurrently, near {many} when "
        "they run one at a time)"
    )
    ours_b, ext_b = med[("ours", many)], med[("restate-ext", many)]
    paired_ext = median(
        [e / o for o, e in zip(by_key["ours"].samples[many], by_key["restate-ext"].samples[many], strict=True)]
    )
    yield (
        f"{many} calls in one response: restate-ext / ours {ext_b / ours_b:.2f} (medians; per-round {paired_ext:.2f}), "
        f"ours {ext_b - ours_b:.0f} ms faster per turn"
    )
    for n in KINDS:
        yield (
            f"added over plain, {n}x (medians): ours {med[('ours', n)] - med[('plain', n)]:.1f} ms, "
            f"restate-ext {med[('restate-ext', n)] - med[('plain', n)]:.1f} ms"
        )
    yield f"{LAST_LINE_PREFIX} {many}x{tool_ms:g}ms/{one}x{tool_ms:g}ms: {ours_b / med[('ours', one)]:.2f}"


def header_lines(
    env: AgentTestEnv, variants: Sequence[Variant], args: argparse.Namespace, isolated: bool
) -> Iterator[str]:
    """What ran where: the machine, the engine, the variants and what each journals per turn."""
    yield (
        f"parallel tools: one model response with {PARALLEL_CALLS} calls of a {args.tool_ms:g} ms tool vs a single "
        "call; 2 LLM calls per turn, scripted model answering at once"
    )
    yield machine_note()
    yield engine_line(env, isolated)
    yield (
        f"{args.rounds} measured rounds after {args.warmup} warm-up rounds; each round runs 1x then "
        f"{PARALLEL_CALLS}x per variant, interleaved (plain, ours, restate-ext); every turn checked: "
        "2 model requests, all tool outputs in the answer"
    )
    for v in variants:
        yield f"  {v.key:<12} {v.what}"
        for calls, invocation in sorted(v.first_invocation.items()):
            yield f"  {'':<12}   journal of a {calls}x turn: {journal_summary(env, invocation)}"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parallel_tools",
        description=(
            f"Time one agent turn whose model asks for {PARALLEL_CALLS} slow tool calls in one response vs a "
            "single call: plain Runner.run vs ours vs restate.ext.openai."
        ),
    )
    parser.add_argument("--rounds", type=positive_int, default=15, help="measured rounds (default 15)")
    parser.add_argument("--warmup", type=non_negative_int, default=2, help="warm-up rounds (default 2)")
    parser.add_argument(
        "--tool-ms", type=positive_float, default=200.0, help="how long one tool call takes, ms (default 200)"
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
    with ExitStack() as stack:
        base_dir = args.base_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-parallel-")))
        started = time.perf_counter()
        env = stack.enter_context(
            AgentTestEnv(
                APP,
                base_dir,
                model=ParallelToolsResponder(),
                env={TOOL_MS_ENV: repr(args.tool_ms)},
                pythonpath=[ROOT],
                unchecked_services=[EXT_SERVICE],
            )
        )
        plain_server = stack.enter_context(ModelServer(ParallelToolsResponder()))
        runner = stack.enter_context(asyncio.Runner())
        progress(f"engine and service up in {time.perf_counter() - started:.1f} s")

        variants = [
            plain_variant(runner, plain_server, args.tool_ms / 1000.0),
            durable_variant(
                env,
                "ours",
                "Ours",
                "Ours/run: agent_service + our DurableRunner, durable_tool (several calls: concurrent steps "
                "of the turn)",
            ),
            durable_variant(
                env,
                "restate-ext",
                EXT_SERVICE,
                "ExtRunner/run: restate.ext.openai.DurableRunner, durable_function_tool + ctx.run_typed "
                "(calls one at a time)",
            ),
        ]
        measure(variants, rounds=args.rounds, warmup=args.warmup, progress=progress)
        for line in header_lines(env, variants, args, isolated):
            print(line)
        print()
        for line in report_lines(variants, args.tool_ms):
            print(line)


if __name__ == "__main__":
    raise SystemExit(main())
