"""``ServiceProcess(standby=True)``: a warm spare takes over after ``kill -9``, on the real engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from resilient_agents.engine import EngineConfig, RestateServer, ServiceProcess, register_deployment
from resilient_agents.engine._child import ChildProcess
from resilient_agents.engine._supervise import RestartPolicy, Supervisor
from resilient_agents.errors import EngineError
from resilient_agents.testing import wait_until

from .conftest import REPO_ROOT

pytestmark = pytest.mark.engine
APP = "tests.engine.standby_app:app"


def _gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def _records(gate: Path, kind: str) -> list[int]:
    """The pids that recorded a ``kind`` step, in no particular order."""
    return [int(p.name.split("-")[1]) for p in gate.iterdir() if p.name.startswith(f"{kind}-")]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[RestateServer]:
    # Not the module's fail-fast engine: the interrupted invocation must be retried.
    server = RestateServer(EngineConfig(base_dir=tmp_path / "restate", ingress_port=0, admin_port=0, node_port=0))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    path = tmp_path / "gate"
    path.mkdir()
    return path


def _service(tmp_path: Path, gate: Path, app: str = APP) -> ServiceProcess:
    return ServiceProcess(
        app, standby=True, cwd=REPO_ROOT, env={"GATE_DIR": str(gate)}, log_path=tmp_path / "service.log"
    )


def test_the_warm_spare_takes_over_a_killed_service_mid_invocation(
    tmp_path: Path, engine: RestateServer, gate: Path
) -> None:
    service = _service(tmp_path, gate).start()
    try:
        register_deployment(engine.admin_url, service.url, force=True)
        assert service.wait_for_spare(60)
        serving, spare = service.pid, service.spare_pid
        assert serving is not None and spare is not None and spare != serving

        invocation = httpx.post(f"{engine.ingress_url}/Steps/run/send", json="turn", timeout=10).json()
        wait_until(lambda: _records(gate, "held"), timeout=60, what="the held step to start")
        assert _records(gate, "held") == [serving]
        assert not _gone(spare)  # The spare was alive (and warm) before the kill.
        os.kill(serving, signal.SIGKILL)
        wait_until(lambda: not service.alive, timeout=30, what="the service to die")

        service.start()  # What the supervisor of `up` calls: it promotes the spare.
        assert service.pid == spare
        assert service.url.endswith(f":{service.port}")  # Same port: the registered deployment stays valid.
        # The engine retries the invocation on the promoted process; the held step runs there again.
        wait_until(lambda: spare in _records(gate, "held"), timeout=60, what="the retry on the promoted spare")
        (gate / "release").touch()
        result = httpx.get(f"{engine.ingress_url}/restate/invocation/{invocation['invocationId']}/attach", timeout=60)
        assert result.status_code == 200, result.text
        assert result.json() == f"turn done by {spare}"

        # Each completed step ran once; only the step in flight at the kill ran again, in the new process.
        assert _records(gate, "first") == [serving]
        assert sorted(_records(gate, "held")) == sorted([serving, spare])
        assert _records(gate, "last") == [spare]
        # A new spare is on its way.
        new_spare = service.spare_pid
        assert new_spare is not None and new_spare not in (serving, spare)
        assert service.wait_for_spare(60)
        log = service.log_path.read_text()
        assert f"standby pid {spare}" in log and f"pid {spare} promoted" in log
    finally:
        service.stop()


def test_stop_ends_both_processes(tmp_path: Path, gate: Path) -> None:
    service = _service(tmp_path, gate).start()
    serving, spare = service.pid, service.spare_pid
    assert serving is not None and spare is not None
    service.stop()
    assert _gone(serving) and _gone(spare)
    assert service.spare_pid is None and not service.alive


def test_a_dead_spare_is_replaced_by_a_cold_start(tmp_path: Path, gate: Path) -> None:
    service = _service(tmp_path, gate).start()
    try:
        spare = service.spare_pid
        assert spare is not None
        os.kill(spare, signal.SIGKILL)
        serving = service.pid
        service.kill()
        service.start()
        assert service.alive and service.pid not in (serving, spare)
        assert service.spare_pid is not None
    finally:
        service.stop()


def test_the_processes_exit_when_their_parent_is_killed(tmp_path: Path, gate: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from resilient_agents.engine import ServiceProcess
        service = ServiceProcess({APP!r}, standby=True, cwd=Path({str(REPO_ROOT)!r}), env={{"GATE_DIR": "."}},
                                 log_path=Path({str(tmp_path / "service.log")!r}))
        service.start()
        service.wait_for_spare(60)
        print(service.pid, service.spare_pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        serving, spare = (int(word) for word in parent.stdout.readline().split())
        assert not _gone(serving) and not _gone(spare)
        parent.kill()
        parent.wait()
        wait_until(lambda: _gone(serving) and _gone(spare), timeout=30, what="both children to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_spare_never_serves_code_older_than_the_source(tmp_path: Path, gate: Path) -> None:
    app_file = tmp_path / "edited_app.py"
    app_file.write_text((REPO_ROOT / "tests" / "engine" / "greeter_app.py").read_text())
    service = _service(tmp_path, gate, app=f"{app_file}:app").start()
    try:
        assert service.wait_for_spare(60)
        spare = service.spare_pid
        # The developer edits the app after the spare imported it, then the service crashes.
        app_file.write_text(app_file.read_text().replace('restate.Service("Greeter")', 'restate.Service("Edited")'))
        service.kill()
        service.start()
        assert service.pid != spare  # Not the stale spare: a fresh process that imported the edited file.
        manifest = httpx.get(
            f"{service.url}/discover", headers={"accept": "application/vnd.restate.endpointmanifest.v2+json"}
        )
        assert '"Edited"' in manifest.text and '"Greeter"' not in manifest.text
        assert f"pid {spare} not promoted: {app_file.resolve()} changed" in service.log_path.read_text()
    finally:
        service.stop()


def test_a_spare_that_cannot_import_the_app_fails_the_start_with_its_error(tmp_path: Path, gate: Path) -> None:
    service = _service(tmp_path, gate, app="no_such_module_xyz:app")
    with pytest.raises(EngineError, match=r"(?s)exited with code 2.*no_such_module_xyz"):
        service.start()
    assert service.spare_pid is None and not service.alive


class _Child(ChildProcess):
    """A stand-in child whose liveness the test sets."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.up = False
        self.starts = 0
        self.path = path

    def _log_file(self) -> Path:
        return self.path

    @property
    def alive(self) -> bool:
        return self.up

    @property
    def returncode(self) -> int | None:
        return None if self.up else -signal.SIGKILL

    def start(self, timeout: float = 30.0) -> _Child:
        self.starts += 1
        self.up = True
        return self


def test_the_supervisor_restarts_a_healthy_process_in_the_same_poll(tmp_path: Path) -> None:
    now = [0.0]
    said: list[str] = []
    supervisor = Supervisor(said.append, RestartPolicy(), clock=lambda: now[0])
    child = _Child(tmp_path / "child.log")
    supervisor.watch("svc", child)
    assert supervisor.start("svc", lambda seconds: False)

    child.up = False
    supervisor.poll()  # Noticed and restarted at once: no delay, no second poll.
    assert said[0] == "! svc exited unexpectedly (signal 9, SIGKILL); restarting it now ..."
    assert child.starts == 2 and supervisor.restarts("svc") == 1

    child.up = False  # A second exit soon after: now it backs off.
    supervisor.poll()
    assert said[-1].endswith("restarting it in 0.1s ...") and child.starts == 2
    now[0] = 0.1
    supervisor.poll()
    assert child.starts == 3
