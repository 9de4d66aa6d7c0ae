"""How fast the CLI starts: ``resilient-agents --help`` and ``status`` against the Python floor and ``import agents``.

Every command that is not ``up`` must start without the Agents SDK, ``openai`` or the serving stack. This bench
runs each command ``--runs`` times as a fresh process with ``PYTHONDONTWRITEBYTECODE=1`` (as on these machines:
no bytecode is written, so each start compiles what it imports unless the install precompiled it), interleaved
round-robin so that load on the machine hits every command alike, and prints the median and the maximum, and
their ratios to ``python -c pass`` (the floor) and ``python -c "import agents"`` (what every command paid before).

``status`` is pointed at an admin URL where nothing listens, so it exits 1 right away ("engine: not reachable");
no engine and no network are needed.

Run: ``scripts/bench startup`` (or ``python -m bench.startup --runs 10``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench._cli import BenchError, positive_int, progress

NO_ENGINE = "http://127.0.0.1:1"


@dataclass(frozen=True)
class Command:
    """One command to time."""

    label: str
    argv: list[str]
    exit_code: int = 0
    """The exit code it must end with (anything else means the timing is of a failure)."""


def _commands(python: str, cli: str) -> list[Command]:
    return [
        Command("python -c pass", [python, "-c", "pass"]),
        Command('python -c "import agents"', [python, "-c", "import agents"]),
        Command("resilient-agents --help", [cli, "--help"]),
        Command("resilient-agents status (no engine)", [cli, "status", "--admin", NO_ENGINE], exit_code=1),
    ]


def _cli_path(python: str) -> str:
    script = Path(python).parent / "resilient-agents"
    if not script.is_file():
        raise BenchError(f"no resilient-agents script beside {python}: install the project (scripts/bootstrap)")
    return str(script)


def _time_once(command: Command, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command.argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != command.exit_code:
        raise BenchError(
            f"{command.label} exited {done.returncode}, expected {command.exit_code}: {done.stderr.strip()[-500:]}"
        )
    return elapsed


def measure(runs: int, python: str = sys.executable) -> dict[str, list[float]]:
    """Seconds per run of each command, the commands interleaved round-robin."""
    commands = _commands(python, _cli_path(python))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cwd = Path(__file__).resolve().parents[1]
    times: dict[str, list[float]] = {c.label: [] for c in commands}
    for command in commands:  # One warm-up each: the OS file cache, not Python, should be what is warm.
        _time_once(command, env, cwd)
    for run in range(runs):
        progress(f"round {run + 1} of {runs}")
        for command in commands:
            times[command.label].append(_time_once(command, env, cwd))
    return times


def report(times: dict[str, list[float]]) -> str:
    """The table: median and max per command, and the medians' ratios to the floor and to ``import agents``."""
    floor = statistics.median(times["python -c pass"])
    agents = statistics.median(times['python -c "import agents"'])
    lines = [
        f"{'command':<40} {'median':>8} {'max':>8} {'x floor':>8} {'x agents':>9}",
    ]
    for label, samples in times.items():
        median = statistics.median(samples)
        lines.append(
            f"{label:<40} {median * 1000:>6.0f}ms {max(samples) * 1000:>6.0f}ms "
            f"{median / floor:>7.1f}x {median / agents:>8.2f}x"
        )
    runs = len(next(iter(times.values())))
    lines.append(f"{runs} runs each, PYTHONDONTWRITEBYTECODE=1, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.startup", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=positive_int, default=10, help="runs per command (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        print(report(measure(args.runs)))
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
