"""Pure helpers of the engine package: log rotation, exit descriptions, the restart policy."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from resilient_agents.engine._child import ChildProcess, describe_exit, rotate_log
from resilient_agents.engine._supervise import GaveUpError, RestartPolicy, Supervisor
from resilient_agents.errors import EngineError


def test_rotate_log_keeps_three_previous(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    rotate_log(log)  # Nothing to rotate yet.
    assert list(tmp_path.iterdir()) == []
    for run in range(1, 6):
        log.write_text(f"run {run}")
        rotate_log(log)
    assert not log.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["service.log.1", "service.log.2", "service.log.3"]
    assert [(tmp_path / f"service.log.{i}").read_text() for i in (1, 2, 3)] == ["run 5", "run 4", "run 3"]


def test_describe_exit() -> None:
    assert describe_exit(-signal.SIGKILL) == "signal 9, SIGKILL"
    assert describe_exit(1) == "code 1"
    assert describe_exit(None) == "still running"


class FakeChild(ChildProcess):
    """A child whose starts succeed or fail as scripted; ``up`` is whether it runs."""

    def __init__(self, tmp_path: Path, outcomes: list[bool]) -> None:
        super().__init__()
        self.outcomes = outcomes
        self.up = False
        self.path = tmp_path / "fake.log"

    def _log_file(self) -> Path:
        return self.path

    @property
    def alive(self) -> bool:
        return self.up

    @property
    def returncode(self) -> int | None:
        return None if self.up else -signal.SIGKILL

    def start(self, timeout: float = 30.0) -> FakeChild:
        if not self.outcomes.pop(0):
            raise EngineError("boom\nLast lines of the log:\nTraceback ...")
        self.up = True
        return self


def test_supervisor_backs_off_resets_and_gives_up(tmp_path: Path) -> None:
    now = [0.0]
    said: list[str] = []
    policy = RestartPolicy(initial_delay=0.1, max_delay=0.4, reset_after=10.0, max_failed_starts=3)
    supervisor = Supervisor(said.append, policy, clock=lambda: now[0])
    child = FakeChild(tmp_path, [True, False, True, True, False, False, False])
    supervisor.watch("svc", child)
    assert supervisor.start("svc", lambda seconds: False)

    child.up = False  # It crashes: restart after 0.1 s, which fails; then 0.2 s later it starts.
    supervisor.poll()
    assert said[-1] == "! svc exited unexpectedly (signal 9, SIGKILL); restarting it in 0.1s ..."
    assert supervisor.restarting("svc")
    now[0] = 0.1
    supervisor.poll()
    assert said[-1].startswith("! svc failed to start (1 of 3 in a row): boom; retrying in 0.2s (log: ")
    now[0] = 0.35
    supervisor.poll()
    assert said[-1].startswith("  svc restarted") and supervisor.restarts("svc") == 1

    now[0] = 20.0  # It stayed up long enough: the delay is back to 0.1 s.
    supervisor.poll()
    child.up = False
    supervisor.poll()
    assert said[-1].endswith("in 0.1s ...")
    now[0] = 20.15
    supervisor.poll()
    assert supervisor.restarts("svc") == 2

    child.up = False  # Now every start fails: after 0.2 s, 0.4 s, 0.4 s (the cap), then it gives up.
    supervisor.poll()
    assert said[-1].endswith("in 0.2s ...")
    for now[0] in (20.4, 20.85):
        supervisor.poll()
    assert [line.split("retrying in ")[1].split("s ")[0] for line in said if "retrying" in line][-2:] == ["0.4", "0.4"]
    now[0] = 21.3
    with pytest.raises(GaveUpError, match=r"(?s)svc failed to start 3 times in a row.*Traceback"):
        supervisor.poll()
