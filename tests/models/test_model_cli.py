"""``python -m resilient_agents.models``: prints its URL, writes the port file, stops on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from resilient_agents.models import DEMO_MODEL_NAME


def test_module_entrypoint_serves_demo_model_until_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "resilient_agents.models", "--mode", "demo", "--port", "0"]
    process = subprocess.Popen([*command, "--port-file", str(port_file)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(
            r"offline model listening on (http://127\.0\.0\.1:(\d+)/v1) \(offline demo model, not an LLM\)", line
        )
        assert match is not None, line
        base_url, port = match.group(1), int(match.group(2))
        assert int(port_file.read_text()) == port

        body = {"model": "whatever", "input": "hello"}
        answer = httpx.post(f"{base_url}/responses", json=body, timeout=5).json()

        assert answer["model"] == DEMO_MODEL_NAME
        assert answer["output"][0]["content"][0]["text"].startswith("(offline demo model)")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)  # A safety net only: it stops at once on SIGTERM.
        if process.stdout is not None:
            process.stdout.close()

    assert code == 0


def test_entrypoint_refuses_non_loopback_host() -> None:
    command = [sys.executable, "-m", "resilient_agents.models", "--host", "0.0.0.0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # A safety net.

    assert result.returncode == 1
    assert "loopback" in result.stdout
