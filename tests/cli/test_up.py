"""``resilient-agents up`` end to end: the weather app on the offline demo model, chat, status, kill -9."""

from __future__ import annotations

import json
import os
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

    def first_line(self, text: str) -> tuple[float, str] | None:
        return next(((t, line) for t, line in list(self.lines) if text in line), None)

    def state(self) -> dict[str, object]:
        try:
            return dict(json.loads((self.data_dir / "up.json").read_text()))
        except (OSError, ValueError):
            return {}


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    yield from _up(tmp_path, "weather")


@pytest.fixture
def up_airline(tmp_path: Path) -> Iterator[UpProcess]:
    yield from _up(tmp_path, "airline")


@pytest.fixture
def up_bank(tmp_path: Path) -> Iterator[UpProcess]:
    yield from _up(tmp_path, "bank")


def _up(tmp_path: Path, app: str) -> Iterator[UpProcess]:
    used: set[int] = set()
    ports = []
    for _ in range(4):
        port = pick_free_port(avoid=used)
        used.add(port)
        ports.append(port)
    ingress_port, admin_port, node_port, service_port = ports
    env = {**os.environ, "WEATHER_API_DELAY": "0.5", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "resilient_agents", "up", "--app", app, "--data-dir", str(tmp_path / "data"),
         "--ingress-port", str(ingress_port), "--admin-port", str(admin_port), "--node-port", str(node_port),
         "--service-port", str(service_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    handle = UpProcess(process, tmp_path / "data", f"http://127.0.0.1:{ingress_port}", f"http://127.0.0.1:{admin_port}")

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            handle.lines.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: handle.first_line("ready:") or process.poll() is not None, timeout=60, what="up to be ready")
        assert process.poll() is None, "\n".join(line for _, line in handle.lines)
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


def _journal_names(admin: str, invocation_id: str) -> list[str]:
    rows = query(admin, f"SELECT name FROM sys_journal WHERE id = '{invocation_id}' ORDER BY index")
    return [str(r.get("name") or "") for r in rows]


def test_up_serves_the_weather_agent_offline(up: UpProcess, capsys: pytest.CaptureFixture[str]) -> None:
    output = "\n".join(line for _, line in up.lines)
    assert "OFFLINE DEMO MODEL" in output  # Announced loudly: no key, no LLM.

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


def test_up_restarts_a_killed_service_and_the_turn_completes(up: UpProcess) -> None:
    invocation = httpx.post(f"{up.ingress}/Agent/run/send", json=QUESTION, timeout=10).json()["invocationId"]
    # The first model call is journaled; the 0.5 s tool is running now.
    wait_until(lambda: "llm: WeatherAgent #1" in _journal_names(up.admin, invocation), what="the first LLM step")
    old_pid = int(str(up.state()["service_pid"]))
    os.kill(old_pid, signal.SIGKILL)

    restarted = wait_until(lambda: up.first_line("service restarted"), timeout=30, what="up to restart the service")
    result = httpx.get(f"{up.ingress}/restate/invocation/{invocation}/attach", timeout=30)
    done = time.monotonic()
    assert result.status_code == 200, result.text
    assert "Detroit" in result.json()
    assert int(str(up.state()["service_pid"])) != old_pid
    names = _journal_names(up.admin, invocation)
    assert names.count("llm: WeatherAgent #1") == 1
    # Acceptance 9 of issue 2: done within 2 s of the restart (the re-run tool itself takes 0.5 s of that).
    print(f"turn completed {done - restarted[0]:.2f}s after the restart")
    assert done - restarted[0] < 2.0, f"turn completed {done - restarted[0]:.2f}s after the restart"


def test_ctrl_c_stops_everything(up: UpProcess) -> None:
    pid = int(str(up.state()["service_pid"]))
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=30) == 0
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

    summary = httpx.post(f"{up_bank.ingress}/Account/alice/summary", timeout=30)
    assert summary.status_code == 200, summary.text
    assert "balance" in chat("how much is my balance?").lower()
    assert "gambling" in chat("how much did I spend on gambling last month?").lower()
    assert "loan" in chat("give me an overview of my outstanding loans and credit").lower()
