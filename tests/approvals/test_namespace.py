"""A namespaced approvals object (``acme.Approvals``) on the real engine, next to the default one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from resilient_agents.testing import AgentTestEnv, wait_until

from .conftest import ROOT, pending, run_cli, urls

pytestmark = pytest.mark.engine


def test_requests_go_to_the_namespaced_object_and_the_cli_finds_it(
    agent_env: Callable[..., AgentTestEnv], capsys: pytest.CaptureFixture[str]
) -> None:
    env = agent_env("tests.approvals.apps.namespaced_app:app", pythonpath=[ROOT])
    invocation = env.send("AcmeDemo/request", {"approval_id": "acme-1", "tenant": "team-a"})
    wait_until(lambda: pending(env, capsys), what="the request to be listed")
    [entry] = pending(env, capsys)  # Found without --namespace: every object named "*.Approvals" is read.
    assert (entry["registry"], entry["tenant"], entry["id"]) == ("acme.Approvals", "team-a", "acme-1")
    assert [a["id"] for a in pending(env, capsys, "--namespace", "acme")] == ["acme-1"]
    assert pending(env, capsys, "--namespace", "other") == []

    code, out, _ = run_cli(capsys, "list", "--admin", env.engine.admin_url)
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:3] == ["ID", "REGISTRY", "TENANT"]
    assert row.split()[:3] == ["acme-1", "acme.Approvals", "team-a"]

    code, out, err = run_cli(capsys, "approve", "acme-1", "--by", "ana", *urls(env))
    assert (code, out, err) == (0, "approved acme-1: acme acme-1\n", "")
    assert env.attach(invocation).json() == {"approved": True, "by": "ana", "note": None, "timed_out": False}
    code, _, err = run_cli(capsys, "reject", "acme-1", "--namespace", "acme", *urls(env))
    assert (code, err) == (1, "error: already approved by ana (approval 'acme-1')\n")
    assert env.query("SELECT DISTINCT service_name FROM state") == [{"service_name": "acme.Approvals"}]
