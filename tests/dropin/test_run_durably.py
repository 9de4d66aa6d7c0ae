"""``python -m resilient_agents.run`` with its own engine, and ``resilient_agents.run_durably(main)`` (build item 3)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from resilient_agents.engine import RestateServer
from resilient_agents.models import ModelServer
from resilient_agents.testing import wait_until

from .conftest import PROGRAMS_DIR, Programs, bodies
from .examples_model import ExamplesModel

pytestmark = pytest.mark.engine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def test_a_rerun_after_kill_uses_the_engine_left_running_then_stops_it(tmp_path: Path, pycache: Path) -> None:
    programs = Programs(tmp_path, pycache, engine=None)  # No RESTATE_*_URL: the launcher runs the engine.
    model = ExamplesModel(hold_at=3)
    with ModelServer(model) as server:
        first = programs.start("durable", "hello_tools", server)
        try:
            wait_until(model.held.is_set, timeout=120, what="the model call after the tool")
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        finally:
            model.release()
        state = json.loads((programs.data_dir / "run.json").read_text())
        engine_pid = state["engine"]["pid"]
        assert _alive(engine_pid)  # The engine runs in its own session: it outlives the killed launcher.

        again = programs.run("durable", "hello_tools", server)
        assert again.returncode == 0, again.stderr[-3000:]
        assert f"using the engine (pid {engine_pid})" in again.stderr
        assert "re-attached to invocation" in again.stderr
        assert again.effects["get_weather"] == 1  # The tool finished before the kill and did not run again.
        assert len(bodies(server)) == 4  # 3 model calls, the one in flight at the kill sent twice.
        wait_until(lambda: not _alive(engine_pid), what="the adopted engine to stop")

        # The run finished: the same command now starts a new invocation (on a newly started engine).
        third = programs.run("durable", "hello_tools", server)
        assert third.returncode == 0, third.stderr[-3000:]
        assert "started invocation" in third.stderr
        assert len(bodies(server)) == 7
        assert third.effects["get_weather"] == 2
        assert third.stdout == again.stdout
    assert json.loads((programs.data_dir / "run.json").read_text())["engine"]["pid"] is None


@pytest.fixture
def script(tmp_path: Path) -> Path:
    # A copy in tmp_path: run_durably keeps its state in .restate-run/ next to the script.
    copy = tmp_path / "run_durably_main.py"
    shutil.copy(PROGRAMS_DIR / "run_durably_main.py", copy)
    return copy


def test_run_durably_returns_mains_value(programs: Programs, engine: RestateServer, script: Path) -> None:
    with ModelServer(ExamplesModel()) as server:
        done = subprocess.run(
            [sys.executable, str(script)], env=programs.env(server), capture_output=True, text=True, timeout=150
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().startswith("{'answer': 'Code calls itself here")
    assert "started invocation" in done.stderr and "Run_run_durably_main/main" in done.stderr
    assert (script.parent / ".restate-run" / "run_durably_main" / "run.json").exists()


def test_an_exception_in_main_fails_the_run_once_not_forever(
    programs: Programs, engine: RestateServer, script: Path
) -> None:
    with ModelServer(ExamplesModel()) as server:
        done = subprocess.run(
            [sys.executable, str(script), "fail"],
            env=programs.env(server),
            capture_output=True,
            text=True,
            timeout=150,
        )
        assert len(bodies(server)) == 1  # Not retried.
    assert done.returncode == 1
    assert "ValueError: asked to fail" in done.stderr
    assert "DurableRunError" in done.stderr
