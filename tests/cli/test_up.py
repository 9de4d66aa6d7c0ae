"""``resilient-agents up`` end to end: the weather app on the offline demo model, chat, status, kill -9."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from resilient_agents.cli import main
from resilient_agents.engine import pick_free_port, query
from resilient_agents.models import ModelServer, ParsedRequest, Reply, ScriptedModel
from resilient_agents.testing import wait_until

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is the weather in Detroit?"


@dataclass
class UpProcess:
    process: subprocess.Popen[str]
    data_dir: Path
    ingress: str
    admin: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    reader: threading.Thread | None = None

    def first_line(self, text: str) -> tuple[float, str] | None:
        return next(((t, line) for t, line in list(self.lines) if text in line), None)

    def output(self) -> str:
        return "\n".join(line for _, line in list(self.lines))

    def model_requests(self) -> int:
        """Requests the offline model received, from its request log (one line per request)."""
        try:
            return len((self.data_dir / "logs" / "model-requests.log").read_text().splitlines())
        except FileNotFoundError:
            return 0

    def state(self) -> dict[str, object]:
        try:
            return dict(json.loads((self.data_dir / "up.json").read_text()))
        except (OSError, ValueError):
            return {}


@pytest.fixture
def up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpProcess]:
    with _up(tmp_path, "weather") as handle:
        monkeypatch.setenv("RESTATE_ADMIN_URL", handle.admin)  # Where in-process `chat` finds the app's services.
        yield handle


@pytest.fixture
def up_airline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpProcess]:
    with _up(tmp_path, "airline") as handle:
        monkeypatch.setenv("RESTATE_ADMIN_URL", handle.admin)
        yield handle


@pytest.fixture
def up_bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UpProcess]:
    with _up(tmp_path, "bank") as handle:
        monkeypatch.setenv("RESTATE_ADMIN_URL", handle.admin)
        yield handle


def _start_up(tmp_path: Path, app: str, env: dict[str, str] | None = None) -> UpProcess:
    used: set[int] = set()
    ports = []
    for _ in range(4):
        port = pick_free_port(avoid=used)
        used.add(port)
        ports.append(port)
    ingress_port, admin_port, node_port, service_port = ports
    full_env = {**os.environ, "WEATHER_API_DELAY": "0.5", "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        # A spec is given as `up APP`, a configured name as `up --app NAME` (both forms work).
        [sys.executable, "-m", "resilient_agents", "up", *([app] if ":" in app else ["--app", app]),
         "--data-dir", str(tmp_path / "data"),
         "--ingress-port", str(ingress_port), "--admin-port", str(admin_port), "--node-port", str(node_port),
         "--service-port", str(service_port)],
        cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    handle = UpProcess(process, tmp_path / "data", f"http://127.0.0.1:{ingress_port}", f"http://127.0.0.1:{admin_port}")

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            handle.lines.append((time.monotonic(), line.rstrip("\n")))

    handle.reader = threading.Thread(target=read, daemon=True)
    handle.reader.start()
    return handle


def _finish(handle: UpProcess) -> None:
    process = handle.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if handle.reader is not None:
        handle.reader.join(timeout=5)
    assert process.stdout is not None
    process.stdout.close()


@contextlib.contextmanager
def _up(tmp_path: Path, app: str, env: dict[str, str] | None = None) -> Iterator[UpProcess]:
    handle = _start_up(tmp_path, app, env)
    try:
        wait_until(lambda: handle.first_line("ready:") or handle.process.poll() is not None, timeout=120, what="up")
        assert handle.process.poll() is None, handle.output()
        yield handle
    finally:
        _finish(handle)


def _journal_names(admin: str, invocation_id: str) -> list[str]:
    rows = query(admin, f"SELECT name FROM sys_journal WHERE id = '{invocation_id}' ORDER BY index")
    return [str(r.get("name") or "") for r in rows]


def test_up_serves_the_weather_agent_offline(up: UpProcess, capsys: pytest.CaptureFixture[str]) -> None:
    output = "\n".join(line for _, line in up.lines)
    assert "OFFLINE DEMO MODEL" in output  # Announced loudly: no key, no LLM.
    # How to call each handler, found from the engine after registration (nothing hard-coded per app).
    assert "Agent (service)" in output
    assert f"curl {up.ingress}/Agent/run --json" in output
    assert "resilient-agents chat --app weather 'What is the weather in Detroit?'" in output
    services = {service["name"]: service for service in up.state()["services"]}  # type: ignore[attr-defined]
    assert services["Agent"] == {"name": "Agent", "kind": "service", "handlers": [{"name": "run", "input": "*/*"}]}

    # The seed's curl.
    response = httpx.post(f"{up.ingress}/Agent/run", json=QUESTION, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "Detroit" in answer and "22" in answer

    # The journal names the model steps and the tool step (the UI shows the same entries).
    names = _journal_names(up.admin, response.headers["x-restate-id"])
    assert [n for n in names if n] == ["llm: WeatherAgent #1", "tool: get_weather", "llm: WeatherAgent #2"]

    assert main(["chat", "--app", "weather", "--ingress", up.ingress, QUESTION]) == 0
    out = capsys.readouterr().out
    assert "Detroit" in out and "22" in out

    assert main(["chat", "--app", "weather", "--ingress", up.ingress, "--async", QUESTION]) == 0
    assert capsys.readouterr().out.strip().startswith("inv_")

    assert main(["status", "--admin", up.admin]) == 0
    status = capsys.readouterr().out
    assert "services: Agent" in status


def test_up_restarts_a_killed_service_and_the_turn_completes(tmp_path: Path) -> None:
    held = _HeldSecondCall()
    with ModelServer(held.model) as server, _up(tmp_path, "weather", held.backend(server)) as up:
        invocation = httpx.post(f"{up.ingress}/Agent/run/send", json=QUESTION, timeout=10).json()["invocationId"]
        # The first model call and the tool are journaled; the second model call is held.
        wait_until(held.held.is_set, timeout=60, what="the second model call")
        workers = up.state()["service_pids"]
        assert isinstance(workers, list)
        old_pids = [int(pid) for pid in workers]
        for pid in old_pids:  # Every worker (up --workers): the held call runs in one of them.
            os.kill(pid, signal.SIGKILL)
        held.release.set()

        restarted = wait_until(lambda: up.first_line("service restarted"), timeout=60, what="up to restart the service")
        assert up.first_line(f"service exited unexpectedly (signal {signal.SIGKILL.value}")
        result = httpx.get(f"{up.ingress}/restate/invocation/{invocation}/attach", timeout=60)
        done = time.monotonic()
        assert result.status_code == 200, result.text
        assert "Detroit" in result.json()
        wait_until(  # up.json follows the supervisor: wait for it rather than race it.
            lambda: str(up.state().get("service_pid")) not in {str(pid) for pid in old_pids},
            timeout=60,
            what="up.json to show the new service process",
        )
        names = _journal_names(up.admin, invocation)
        assert names.count("llm: WeatherAgent #1") == 1
        held.assert_only_the_call_in_flight_was_repeated()
        # A figure for the report, not a bound: timing belongs in the benches.
        print(f"turn completed {done - restarted[0]:.2f}s after the service restart")


class _HeldSecondCall:
    """Our model for `up` (instead of the offline one): it holds the second model call until released, so a
    test kills a process at a known point of the turn rather than racing a slow tool."""

    def __init__(self) -> None:
        self.held, self.release = threading.Event(), threading.Event()
        self.model = ScriptedModel(
            Reply.call("get_weather", city="Detroit"),
            self._held_answer,
            lambda request: Reply.say(f"In Detroit: {request.trailing_tool_outputs()[-1].text}"),
        )

    def _held_answer(self, request: ParsedRequest) -> Reply:
        self.held.set()
        self.release.wait(timeout=120)
        return Reply.say("too late: the attempt that asked is gone")

    def backend(self, server: ModelServer) -> dict[str, str]:
        return {
            "OPENAI_API_KEY": "test-key-not-secret",
            "OPENAI_BASE_URL": server.base_url,
            "RESILIENT_AGENTS_API": "responses",
            "RESILIENT_AGENTS_MODEL": "scripted",
            "WEATHER_API_DELAY": "0",
        }

    def assert_only_the_call_in_flight_was_repeated(self) -> None:
        first_calls = [r for r in self.model.received if not r.trailing_tool_outputs()]
        assert len(first_calls) == 1 and len(self.model.received) == 3, self.model.received


def test_up_restarts_a_killed_engine_and_the_turn_completes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held = _HeldSecondCall()
    with ModelServer(held.model) as server, _up(tmp_path, "weather", held.backend(server)) as up:
        engine_pid = int(str(up.state()["engine_pid"]))
        # The pid `up` supervises is the real restate-server binary, not the npm Node wrapper.
        assert Path(f"/proc/{engine_pid}/exe").resolve().name == "restate-server"
        invocation = httpx.post(f"{up.ingress}/Agent/run/send", json=QUESTION, timeout=10).json()["invocationId"]
        wait_until(held.held.is_set, timeout=60, what="the second model call")
        killed = time.monotonic()
        os.kill(engine_pid, signal.SIGKILL)
        held.release.set()  # Its answer goes to an attempt whose engine is gone.

        wait_until(lambda: up.first_line("restate-server restarted"), timeout=60, what="up to restart the engine")
        exited = up.first_line("restate-server exited unexpectedly")
        assert exited is not None and f"(signal {signal.SIGKILL.value}" in exited[1], up.output()
        assert "same data dir" in exited[1]
        result = httpx.get(f"{up.ingress}/restate/invocation/{invocation}/attach", timeout=60)
        done = time.monotonic()
        assert result.status_code == 200, result.text
        assert "Detroit" in result.json()

        # up.json is rewritten as the supervisor notices the restart: wait for it rather than race it.
        state = wait_until(
            lambda: (lambda s: s if s.get("engine_state") == "running" and s.get("engine_restarts") == 1 else None)(
                up.state()
            ),
            timeout=60,
            what="up.json to show the restarted engine",
        )
        assert int(str(state["engine_pid"])) != engine_pid
        names = _journal_names(up.admin, invocation)
        assert names.count("llm: WeatherAgent #1") == 1 and names.count("llm: WeatherAgent #2") == 1
        # The finished first call was not repeated; only the call in flight at the kill was sent again.
        held.assert_only_the_call_in_flight_was_repeated()
        assert main(["status", "--admin", up.admin, "--data-dir", str(up.data_dir)]) == 0
        assert "services: Agent" in capsys.readouterr().out
        # One log per process under the data dir; the engine's holds both runs.
        engine_log = (up.data_dir / "logs" / "engine.log").read_text()
        assert engine_log.count("=== resilient-agents: starting") == 2
        with capsys.disabled():
            print(f"\nturn completed {done - killed:.2f}s after the engine was killed")


def test_a_service_that_keeps_failing_to_start_stops_up(tmp_path: Path) -> None:
    fail = tmp_path / "fail-at-import"
    app_file = tmp_path / "flaky_copy.py"
    shutil.copy(Path(__file__).with_name("flaky_app.py"), app_file)
    with _up(tmp_path, f"{app_file}:app", {"FLAKY_APP_FAIL_FILE": str(fail)}) as up:
        assert up.first_line(f"logs: {up.data_dir / 'logs'}")
        assert httpx.post(f"{up.ingress}/Agent/run", json="hi", timeout=30).json() == "echo: hi"
        # A broken deploy: the app's source changes (so the warm spare, which imported the old code, is not
        # promoted) and its next import raises.
        fail.touch()
        app_file.write_text(app_file.read_text() + "\n# deploy 2\n")
        os.kill(int(str(up.state()["service_pid"])), signal.SIGKILL)

        assert up.process.wait(timeout=120) == 1
        assert up.reader is not None
        up.reader.join(timeout=30)
        output = up.output()
        assert "service exited unexpectedly (signal 9" in output
        # Restarted at once after the crash, then with doubling delays, then given up with the tail of its log.
        for attempt, delay in ((1, "0.1"), (2, "0.2"), (3, "0.4"), (4, "0.8")):
            assert f"service failed to start ({attempt} of 5 in a row)" in output
            assert f"retrying in {delay}s" in output
        assert "service failed to start 5 times in a row without becoming healthy; giving up" in output
        assert "flaky_app refuses to import" in output  # The tail of the log.
        assert output.rstrip().endswith("stopped.")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{up.admin}/health", timeout=2)
        assert not (up.data_dir / "up.json").exists()


def test_a_service_that_fails_at_import_from_the_start(tmp_path: Path) -> None:
    fail = tmp_path / "fail-at-import"
    fail.touch()
    up = _start_up(tmp_path, "tests.cli.flaky_app:app", {"FLAKY_APP_FAIL_FILE": str(fail)})
    try:
        assert up.process.wait(timeout=120) == 1
    finally:
        _finish(up)
    output = up.output()
    assert "ready:" not in output
    assert "giving up" in output and "RuntimeError: flaky_app refuses to import" in output
    # The log keeps every attempt; a second `up` moves it to service.log.1.
    log = (up.data_dir / "logs" / "service.log").read_text()
    # Each of the 5 attempts is there (with workers and a warm spare, an attempt can start more than one process).
    assert log.count("=== resilient-agents: starting") >= 5, log
    assert log.count("flaky_app refuses to import") >= 5, log


def test_ctrl_c_stops_everything(up: UpProcess) -> None:
    pid = int(str(up.state()["service_pid"]))
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=120) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{up.admin}/health", timeout=2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (up.data_dir / "up.json").exists()


def test_up_airline_seed_conversations_through_chat(up_airline: UpProcess, capsys: pytest.CaptureFixture[str]) -> None:
    def chat(session: str, text: str) -> str:
        assert main(["chat", "--app", "airline", "--ingress", up_airline.ingress, "--session", session, text]) == 0
        return capsys.readouterr().out

    assert "AB4568" in chat("alice", "can you send me an invoice for booking AB4568?")
    assert "confirmation number" in chat("bob", "can you change my seat to 10b?").lower()
    assert "10B" in chat("bob", "5666")
    assert main(["sessions", "show", "airline", "bob", "--ingress", up_airline.ingress]) == 0
    shown = capsys.readouterr().out
    assert "Seat Booking Agent" in shown and "5666" in shown
    assert main(["chat", "--app", "airline", "--ingress", up_airline.ingress, "hello"]) == 2  # No --session.


def test_up_bank_seed_requests_through_chat(up_bank: UpProcess, capsys: pytest.CaptureFixture[str]) -> None:
    def chat(text: str) -> str:
        assert main(["chat", "--app", "bank", "--ingress", up_bank.ingress, "--session", "alice", text]) == 0
        return capsys.readouterr().out

    # The accounts are reachable only through the agent's tools, not straight from the ingress.
    summary = httpx.post(f"{up_bank.ingress}/Account/alice/summary", timeout=30)
    assert summary.status_code == 400 and "not public" in summary.text, summary.text
    assert "balance" in chat("how much is my balance?").lower()
    assert "gambling" in chat("how much did I spend on gambling last month?").lower()
    assert "loan" in chat("give me an overview of my outstanding loans and credit").lower()
