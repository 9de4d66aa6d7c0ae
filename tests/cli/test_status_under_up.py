"""``resilient-agents status`` says what is true while ``up`` runs but its engine is briefly down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resilient_agents.cli import main
from resilient_agents.engine import pick_free_port


def _write_state(data_dir: Path, pid: int, admin: str, engine_state: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    state = {"app": "weather", "admin_url": admin, "pid": pid, "engine_state": engine_state, "logs": str(data_dir)}
    (data_dir / "up.json").write_text(json.dumps(state))


@pytest.mark.parametrize("engine_state", ["restarting", "running"])
def test_status_while_up_restarts_the_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engine_state: str
) -> None:
    admin = f"http://127.0.0.1:{pick_free_port()}"  # Nothing listens there: the engine is down.
    _write_state(tmp_path, os.getpid(), admin, engine_state)  # This test process stands in for a live `up`.
    assert main(["status", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"up is running (pid {os.getpid()}) but the engine is not answering at {admin}" in err
    assert "start it with" not in err
    if engine_state == "restarting":
        assert "up is restarting it" in err


def test_status_after_up_is_gone_says_to_start_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # A pid that no longer exists: the state file was left by an `up` that was killed.
    admin = f"http://127.0.0.1:{pick_free_port()}"
    _write_state(tmp_path, gone.pid, admin, "running")
    assert main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "start it with `resilient-agents up`" in capsys.readouterr().err
