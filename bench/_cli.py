"""Command-line plumbing shared by the benchmarks (bench process only; the served apps do not import it)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence

from resilient_agents.engine import binary_version, enter_loopback_namespace
from resilient_agents.testing import AgentTestEnv


class BenchError(Exception):
    """A check failed: the numbers would be meaningless, so the bench exits with code 1."""


def positive_int(text: str) -> int:
    """``argparse`` type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """``argparse`` type: an integer of 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """``argparse`` type: a number of 0 or more."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """``argparse`` type: a number above 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def progress(message: str) -> None:
    """Report progress on stderr (the table goes to stdout)."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def engine_line(env: AgentTestEnv, isolated: bool) -> str:
    """The report line naming the engine version and the network it ran in."""
    binary = env.engine.binary
    version = binary_version(binary) if binary is not None else None
    network = "loopback-only network namespace" if isolated else "plain loopback (no network namespace allowed)"
    return f"engine: restate-server {version or '(unknown version)'}, single node, {network}"


def run_main(
    argv: Sequence[str] | None,
    parse: Callable[[Sequence[str] | None], argparse.Namespace],
    run: Callable[[argparse.Namespace, bool], None],
) -> int:
    """Enter the loopback-only namespace, parse the arguments, run the bench; return the exit code."""
    # First, before any thread exists: restate-server must not reach the internet.
    isolated = enter_loopback_namespace()
    args = parse(argv)
    try:
        run(args, isolated)
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    return 0


def journal_summary(env: AgentTestEnv, invocation_id: str) -> str:
    """The turn's journaled steps and calls, in order, with repeats folded (``tool: slow_lookup x5``)."""
    names: list[str] = []
    for entry in env.journal(invocation_id):
        if entry.entry_type.startswith("Command: Run") and entry.name:
            # Repeated tool steps are numbered (``tool: x #2``); fold them as one kind.
            names.append(re.sub(r" #\d+$", "", entry.name) if entry.name.startswith("tool: ") else entry.name)
        elif entry.entry_type.startswith("Command: Call"):
            names.append(f"call {_call_target(entry.raw)}")
    folded: list[str] = []
    count = 0
    for i, name in enumerate(names):
        count += 1
        if i + 1 == len(names) or names[i + 1] != name:
            folded.append(f"{name} x{count}" if count > 1 else name)
            count = 0
    return ", ".join(folded) or "(none)"


def _call_target(row: dict[str, object]) -> str:
    """``Service/handler`` or ``Object/<key>/handler`` of a ``Command: Call`` journal row (``?`` if unreadable)."""
    try:
        call = json.loads(str(row["entry_json"]))["Command"]["Call"]
        (kind, target), *_ = call["request"]["invocation_target"].items()
        key = "/<key>" if kind == "VirtualObject" or target.get("key") else ""
        return f"{target['name']}{key}/{target['handler']}"
    except (KeyError, TypeError, ValueError, AttributeError):
        return "?"
