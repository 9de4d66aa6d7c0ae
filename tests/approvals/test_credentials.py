"""The approver credential: with one configured, ``list`` and ``decide`` refuse callers without it (401/403)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.access import APPROVER_TOKEN_ENV, APPROVER_TOKEN_HEADER
from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import ROOT, pending_ids, run_cli, urls

pytestmark = pytest.mark.engine

Capsys = pytest.CaptureFixture[str]
TOKEN = "approver-credential-for-tests"


@pytest.fixture(scope="module")
def guarded_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentTestEnv]:
    """The approvals test app, served with an approver credential in the service's environment."""
    env = AgentTestEnv(
        "tests.approvals.apps.approval_app:app",
        tmp_path_factory.mktemp("guarded"),
        pythonpath=[ROOT],
        env={APPROVER_TOKEN_ENV: TOKEN},
    ).start()
    yield env
    env.stop()


def _post(env: AgentTestEnv, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
    headers = {APPROVER_TOKEN_HEADER: token} if token is not None else {}
    return httpx.post(f"{env.engine.ingress_url}/{path}", json=body, headers=headers, timeout=30)


def _start(env: AgentTestEnv, capsys: Capsys, approval_id: str) -> str:
    invocation = env.send("ApprovalDemo/request", {"title": f"approve {approval_id}", "approval_id": approval_id})
    wait_until(lambda: approval_id in pending_ids(env, capsys), what=f"{approval_id} to be listed")
    return invocation


def test_list_and_decide_need_the_credential(guarded_env: AgentTestEnv, capsys: Capsys) -> None:
    invocation = _start(guarded_env, capsys, "apr-guarded")

    missing = _post(guarded_env, "Approvals/default/list")
    assert missing.status_code == 401, missing.text
    assert APPROVER_TOKEN_HEADER in missing.text
    wrong = _post(guarded_env, "Approvals/default/list", token="guess")
    assert wrong.status_code == 403, wrong.text
    assert "awakeable" not in missing.text + wrong.text

    decision = {"id": "apr-guarded", "approved": True, "by": "mallory"}
    assert _post(guarded_env, "Approvals/default/decide", decision).status_code == 401
    assert _post(guarded_env, "Approvals/default/decide", decision, token="guess").status_code == 403
    # The internal handlers are not reachable from the ingress at all (conclude could otherwise record a decision).
    conclude = {"id": "apr-guarded", "decision": {"approved": True, "by": "mallory"}}
    assert _post(guarded_env, "Approvals/default/conclude", conclude, token=TOKEN).status_code >= 400
    assert "apr-guarded" in pending_ids(guarded_env, capsys)  # Still waiting: nothing was decided.

    listed = _post(guarded_env, "Approvals/default/list", token=TOKEN)
    assert listed.status_code == 200
    assert "apr-guarded" in {entry["id"] for entry in listed.json()}

    code, _, err = run_cli(capsys, "approve", "apr-guarded", "--by", "ana", *urls(guarded_env))
    assert code == 1
    assert APPROVER_TOKEN_HEADER in err
    code, out, err = run_cli(
        capsys, "approve", "apr-guarded", "--by", "ana", "--approver-token", TOKEN, *urls(guarded_env)
    )
    assert (code, err) == (0, "")
    assert out == "approved apr-guarded: approve apr-guarded\n"
    result = guarded_env.attach(invocation, timeout=30)
    assert result.json() == {"approved": True, "by": "ana", "note": None, "timed_out": False}


def test_the_cli_reads_the_credential_from_the_environment(
    guarded_env: AgentTestEnv, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    invocation = _start(guarded_env, capsys, "apr-from-env")
    monkeypatch.setenv(APPROVER_TOKEN_ENV, TOKEN)
    code, out, err = run_cli(capsys, "reject", "apr-from-env", "--by", "ana", *urls(guarded_env))
    assert (code, err) == (0, "")
    assert out.startswith("rejected apr-from-env")
    assert guarded_env.attach(invocation, timeout=30).json()["approved"] is False


def test_without_a_configured_credential_the_object_stays_open(tmp_path: Path, capsys: Capsys) -> None:
    with AgentTestEnv("tests.approvals.apps.approval_app:app", tmp_path, pythonpath=[ROOT]) as env:
        assert _post(env, "Approvals/default/list").status_code == 200
