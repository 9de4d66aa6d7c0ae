"""One engine for the approval tests (``ApprovalDemo``, ``ApprovalFlow``, ``Approvals``...), and CLI helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.cli._approvals import approvals_main
from resilient_agents.testing import AgentTestEnv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def approval_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentTestEnv]:
    """The engine and the test app, shared by a module's tests (each test uses its own approval ids)."""
    env = AgentTestEnv(
        "tests.approvals.apps.approval_app:app", tmp_path_factory.mktemp("approvals"), pythonpath=[ROOT]
    ).start()
    yield env
    env.stop()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``resilient-agents approvals ARGV``; return the exit code, stdout and stderr."""
    capsys.readouterr()
    code = approvals_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def urls(env: AgentTestEnv) -> list[str]:
    """The CLI flags that point ``approve``/``reject`` at this environment's engine."""
    return ["--ingress", env.engine.ingress_url, "--admin", env.engine.admin_url]


def pending(env: AgentTestEnv, capsys: pytest.CaptureFixture[str], *flags: str) -> list[dict[str, Any]]:
    """The pending approvals as ``approvals list --json`` prints them (of every tenant and namespace)."""
    code, out, err = run_cli(capsys, "list", "--json", "--admin", env.engine.admin_url, *flags)
    assert code == 0, err
    listed: list[dict[str, Any]] = json.loads(out)
    return listed


def pending_ids(env: AgentTestEnv, capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The ids of the pending approvals."""
    return {a["id"] for a in pending(env, capsys)}
