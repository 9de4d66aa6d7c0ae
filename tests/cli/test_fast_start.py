"""The CLI starts without the Agents SDK, openai or the serving stack: only `up` needs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "resilient_agents"

PROGRAM = """
import sys
import resilient_agents.cli as cli

try:
    cli.main(["--help"])
except SystemExit:
    pass
code = cli.main(["status", "--admin", "http://127.0.0.1:1"])
for argv in (["chat", "--to", "Agent/run", "--admin", "http://127.0.0.1:1", "--ingress", "http://127.0.0.1:1", "hi"],
             ["sessions", "show", "x:app", "k", "--object", "S", "--ingress", "http://127.0.0.1:1"],
             ["approvals", "list", "--admin", "http://127.0.0.1:1"],
             ["approvals", "list", "--namespace", "bank", "--admin", "http://127.0.0.1:1"]):
    cli.main(argv)
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"agents", "openai", "hypercorn", "restate"})
print("status exit", code)
print("heavy", heavy)
"""


def test_help_status_chat_sessions_approvals_do_not_import_the_heavy_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120, env=_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert "status exit 1" in done.stdout  # No engine there: status says so and exits 1.
    assert "heavy []" in done.stdout, done.stdout


def test_the_library_never_imports_the_examples() -> None:
    importing = re.compile(r"^\s*(from|import)\s+examples\b", re.MULTILINE)
    offenders = [str(path) for path in SRC.rglob("*.py") if importing.search(path.read_text())]
    assert offenders == []


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
