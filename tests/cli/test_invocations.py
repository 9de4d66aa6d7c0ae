"""``resilient-agents invocations``: list what backs off or is paused with its error; cancel, kill, resume.

On the real engine, with ``tests/cli/ops_app.py``: a step that keeps failing backs off, a handler that runs
out of attempts pauses. Every wait is on observable state (the engine's own tables), never on elapsed time.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.cli import main
from resilient_agents.cli._invocations import add_invocations_parser
from resilient_agents.engine import pick_free_port
from resilient_agents.testing import AgentTestEnv, wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.cli.ops_app:app"


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    directory = tmp_path / "gate"
    directory.mkdir()
    return directory


@pytest.fixture
def env(agent_env: Callable[..., AgentTestEnv], gate: Path) -> AgentTestEnv:
    return agent_env(APP, env={"GATE_DIR": str(gate)}, pythonpath=[ROOT])


def listed(env: AgentTestEnv, capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, dict[str, Any]]:
    """``invocations --json`` (with ``options``) by invocation id."""
    assert main(["invocations", "list", "--json", "--admin", env.engine.admin_url, *options]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return {row["id"]: row for row in rows}


def backing_off(env: AgentTestEnv, capsys: pytest.CaptureFixture[str], invocation: str) -> dict[str, Any] | None:
    """The listed row once the invocation has failed at least twice and waits for its next try."""
    row = listed(env, capsys, "--status", "backing-off").get(invocation)
    return row if row is not None and row["attempts"] >= 2 else None


@pytest.mark.engine
def test_backing_off_is_listed_with_its_error_then_cancel_and_kill_end_it(
    env: AgentTestEnv, gate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = ["--admin", env.engine.admin_url]
    (gate / "fail-a").touch()
    (gate / "fail-b").touch()
    first = env.send("Flaky/fetch", "a")
    second = env.send("Flaky/fetch", "b")

    row = wait_until(lambda: backing_off(env, capsys, first), timeout=60, what="the first invocation backing off")
    assert (row["target"], row["status"], row["failure_step"]) == ("Flaky/fetch", "backing-off", "fetch: a")
    assert "ConnectionError('upstream a is down')" in row["last_failure"], row
    assert row["next_retry_at"] is not None
    # The readable listing says the same on one line per invocation.
    assert main(["invocations", *admin]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(first))
    assert "Flaky/fetch" in line and "backing-off" in line and "next try" in line, out
    assert "in step 'fetch: a'" in line and "upstream a is down" in line, out
    assert main(["invocations", "--service", "Pausing", *admin]) == 0
    assert "no invocations of 'Pausing'" in capsys.readouterr().out

    # cancel: the handler sees the cancellation at its next attempt and ends failed with "cancelled".
    assert main(["invocations", "cancel", first, *admin]) == 0
    assert first in capsys.readouterr().out
    wait_until(lambda: env.invocation_status(first) == "completed", timeout=60, what="the cancelled invocation to end")
    assert (gate / "cancelled-a").exists(), "the handler did not see the cancellation"
    ended = listed(env, capsys, "--status", "completed")[first]
    assert "cancelled" in ended["outcome"], ended
    assert first not in listed(env, capsys)  # No longer active.

    # kill: ends the other one at once; no handler code runs, so it never sees a cancellation.
    wait_until(lambda: backing_off(env, capsys, second), timeout=60, what="the second invocation backing off")
    assert main(["invocations", "kill", second, *admin]) == 0
    assert f"{second}: killed" in capsys.readouterr().out
    wait_until(lambda: env.invocation_status(second) == "completed", timeout=60, what="the killed invocation to end")
    assert "killed" in listed(env, capsys, "--status", "all")[second]["outcome"]
    assert not (gate / "cancelled-b").exists()

    # Clear errors for an invocation that already finished, an unknown id and something that is no id.
    assert main(["invocations", "cancel", first, *admin]) == 1
    assert "already completed" in capsys.readouterr().err
    unknown = first[:-1] + ("A" if first[-1] != "A" else "B")
    assert main(["invocations", "kill", unknown, *admin]) == 1
    assert f"has no invocation {unknown!r}" in capsys.readouterr().err
    assert main(["invocations", "resume", "not-an-id", *admin]) == 1
    assert "'not-an-id' is not an invocation id" in capsys.readouterr().err


@pytest.mark.engine
def test_a_paused_invocation_is_listed_and_resume_finishes_it_after_the_fix(
    env: AgentTestEnv, gate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = ["--admin", env.engine.admin_url]
    (gate / "fail-p").touch()
    invocation = env.send("Pausing/work", "p")

    row = wait_until(
        lambda: listed(env, capsys, "--status", "paused").get(invocation), timeout=60, what="the invocation to pause"
    )
    assert row["target"] == "Pausing/work" and "work on p failed: disk full" in row["last_failure"], row
    assert main(["invocations", "--status", "paused", *admin]) == 0
    out = capsys.readouterr().out
    assert invocation in out and "paused: fix the cause, then `invocations resume`" in out, out

    (gate / "fail-p").unlink()  # Fix the cause, then resume.
    assert main(["invocations", "resume", invocation, *admin]) == 0
    assert invocation in capsys.readouterr().out
    response = env.attach(invocation)
    assert response.status_code == 200, response.text
    assert response.json() == "worked p"
    assert listed(env, capsys, "--status", "all")[invocation]["outcome"] == "success"
    # A finished invocation cannot be resumed; the message says why.
    assert main(["invocations", "resume", invocation, *admin]) == 1
    assert "completed" in capsys.readouterr().err

    # pause stops the retries of a backing-off invocation until it is resumed.
    (gate / "fail-c").touch()
    third = env.send("Flaky/fetch", "c")
    wait_until(lambda: backing_off(env, capsys, third), timeout=60, what="the third invocation backing off")
    assert main(["invocations", "pause", third, *admin]) == 0
    assert third in capsys.readouterr().out
    row = wait_until(lambda: listed(env, capsys, "--status", "paused").get(third), timeout=60, what="the pause")
    assert row["failure_step"] == "fetch: c" and "upstream c is down" in row["last_failure"], row
    (gate / "fail-c").unlink()
    assert main(["invocations", "resume", third, *admin]) == 0
    assert env.attach(third).json() == "fetched c"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="resilient-agents")
    add_invocations_parser(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["invocations", "--status", "paused", "--json", "--limit", "5"],
        ["invocations", "list", "--status", "paused", "--json", "--limit", "5"],
        ["invocations", "--status", "paused", "list", "--json", "--limit", "5"],
    ],
)
def test_list_options_go_before_or_after_the_action_word(argv: list[str]) -> None:
    args = parse(argv)
    assert (args.status, args.as_json, args.limit, args.service, args.admin) == ("paused", True, 5, None, None)


def test_actions_take_an_id_and_the_admin_url() -> None:
    args = parse(["invocations", "kill", "inv_1abc", "--admin", "http://127.0.0.1:1"])
    assert (args.action, args.invocation_id, args.admin) == ("kill", "inv_1abc", "http://127.0.0.1:1")
    assert parse(["invocations"]).status == "active"


def test_an_unreachable_engine_is_an_error_that_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    admin = f"http://127.0.0.1:{pick_free_port()}"
    assert main(["invocations", "--admin", admin]) == 1
    assert admin in capsys.readouterr().err
