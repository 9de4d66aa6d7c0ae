"""``resilient-agents approvals`` without an engine: the table, id lookup, routing of decisions, errors."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.approvals import PendingApproval, ResolveTarget
from resilient_agents.cli import _approvals
from resilient_agents.cli._approvals import (
    add_approvals_parser,
    approvals_main,
    find_approval,
    format_duration,
    render_table,
)
from resilient_agents.engine import pick_free_port

from .conftest import run_cli

NOW = 1_800_000_000_000


def _approval(ident: str, *, age_s: int = 0, expires_in_s: int | None = 60, **extra: Any) -> PendingApproval:
    created = NOW - age_s * 1000
    return PendingApproval(
        id=ident,
        title=extra.pop("title", f"title of {ident}"),
        requested_by=extra.pop("requested_by", "agent"),
        resolve=extra.pop("resolve", ResolveTarget(kind="awakeable", awakeable_id=f"sign_{ident}")),
        created_at_ms=created,
        expires_at_ms=None if expires_in_s is None else NOW + expires_in_s * 1000,
        **extra,
    )


class FakeIngress:
    """Stands in for ``httpx.post``: answers the list call and records every POST."""

    def __init__(self, pending: list[PendingApproval], status: int = 200) -> None:
        self.pending = pending
        self.status = status
        self.posts: list[tuple[str, bytes | None, dict[str, str]]] = []

    def __call__(self, url: str, *, content: bytes | None, headers: dict[str, str], timeout: float) -> httpx.Response:
        self.posts.append((url, content, headers))
        request = httpx.Request("POST", url)
        if url.endswith("/Approvals/pending/list"):
            body = [a.model_dump(mode="json") for a in self.pending]
            return httpx.Response(200, json=body, request=request)
        return httpx.Response(self.status, json={"message": "boom"} if self.status >= 400 else None, request=request)


@pytest.fixture
def ingress(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeIngress]:
    def install(pending: list[PendingApproval], status: int = 200) -> FakeIngress:
        fake = FakeIngress(pending, status)
        monkeypatch.setattr(httpx, "post", fake)
        return fake

    return install


def test_table_shows_id_title_requester_age_and_expiry() -> None:
    table = render_table(
        [
            _approval("apr-1", age_s=200, expires_in_s=100),
            _approval("flow-loan-7", title="loan " + "x" * 80, requested_by="", expires_in_s=None),
            _approval("apr-3", age_s=7200, expires_in_s=-5),
        ],
        now_ms=NOW,
    )
    title = "loan " + "x" * 42 + "…"
    assert table.splitlines() == [
        "ID           TITLE                                             REQUESTED BY  AGE     EXPIRES IN",
        "apr-1        title of apr-1                                    agent         3m 20s  1m 40s",
        f"flow-loan-7  {title}  -             0s      never",
        "apr-3        title of apr-3                                    agent         2h      expired",
    ]
    assert render_table([], now_ms=NOW) == "no pending approvals"


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (59_999, "59s"), (60_000, "1m"), (200_000, "3m 20s"), (3_605_000, "1h"), (90_000_000, "1d 1h")],
)
def test_durations(ms: int, text: str) -> None:
    assert format_duration(ms) == text


def test_lookup_by_id_or_unique_prefix_with_clear_errors() -> None:
    pending = [_approval("apr-12"), _approval("apr-13"), _approval("flow-1")]
    assert find_approval(pending, "apr-12").id == "apr-12"
    assert find_approval(pending, "flow").id == "flow-1"
    with pytest.raises(Exception, match=r"'apr-1' matches several pending approvals \(apr-12, apr-13\)"):
        find_approval(pending, "apr-1")
    with pytest.raises(Exception, match=r"no pending approval 'nope'; `resilient-agents approvals list` shows them"):
        find_approval(pending, "nope")
    with pytest.raises(Exception, match="no pending approval ''"):
        find_approval(pending, "")


def test_approve_resolves_the_awakeable(
    ingress: Callable[..., FakeIngress], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = ingress([_approval("apr-1")])
    code, out, err = run_cli(capsys, "approve", "apr-1", "--by", "ana", "--note", "ok", "--ingress", "http://x:1/")
    assert (code, out, err) == (0, "approved apr-1: title of apr-1\n", "")
    (list_url, list_body, list_headers), (url, body, headers) = fake.posts
    assert (list_url, list_body, list_headers) == ("http://x:1/Approvals/pending/list", None, {})
    assert url == "http://x:1/restate/awakeables/sign_apr-1/resolve"
    assert headers == {"content-type": "application/json"}
    assert body is not None
    assert json.loads(body) == {"approved": True, "by": "ana", "note": "ok", "timed_out": False}


def test_reject_calls_the_workflow_handler(
    ingress: Callable[..., FakeIngress], capsys: pytest.CaptureFixture[str]
) -> None:
    target = ResolveTarget(kind="workflow", service="LoanApproval", key="c-7", handler="decide")
    fake = ingress([_approval("loan-c-7", resolve=target)])
    code, out, _ = run_cli(capsys, "reject", "loan-c-7", "--by", "bo", "--ingress", "http://x:1")
    assert code == 0 and out.startswith("rejected loan-c-7")
    url, body, _ = fake.posts[1]
    assert url == "http://x:1/LoanApproval/c-7/decide"
    assert body is not None
    assert json.loads(body) == {"approved": False, "by": "bo", "note": None, "timed_out": False}


def test_by_defaults_to_the_user_name(
    ingress: Callable[..., FakeIngress], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "someone")
    fake = ingress([_approval("apr-1")])
    assert run_cli(capsys, "approve", "apr-1", "--ingress", "http://x:1")[0] == 0
    body = fake.posts[1][1]
    assert body is not None and json.loads(body)["by"] == "someone"


def test_unknown_id_and_incomplete_target_fail(
    ingress: Callable[..., FakeIngress], capsys: pytest.CaptureFixture[str]
) -> None:
    ingress([_approval("apr-1"), _approval("bad", resolve=ResolveTarget(kind="workflow", service="X"))])
    code, _, err = run_cli(capsys, "approve", "apr-9", "--ingress", "http://x:1")
    assert code == 1
    assert err == "error: no pending approval 'apr-9'; `resilient-agents approvals list` shows them\n"
    code, _, err = run_cli(capsys, "approve", "bad", "--ingress", "http://x:1")
    assert code == 1 and "approval 'bad' has an incomplete resolve target" in err


def test_http_errors_are_reported(ingress: Callable[..., FakeIngress], capsys: pytest.CaptureFixture[str]) -> None:
    ingress([_approval("apr-1")], status=500)
    code, _, err = run_cli(capsys, "approve", "apr-1", "--ingress", "http://x:1")
    assert code == 1
    assert err == "error: HTTP 500 from http://x:1/restate/awakeables/sign_apr-1/resolve: boom\n"


def test_list_json_and_table(ingress: Callable[..., FakeIngress], capsys: pytest.CaptureFixture[str]) -> None:
    ingress([_approval("apr-1", details={"seat": "1A"})])
    code, out, _ = run_cli(capsys, "list", "--json", "--ingress", "http://x:1")
    assert code == 0
    [entry] = json.loads(out)
    assert entry["id"] == "apr-1" and entry["details"] == {"seat": "1A"}
    code, out, _ = run_cli(capsys, "list", "--ingress", "http://x:1")
    assert code == 0 and out.splitlines()[1].startswith("apr-1 ")


def test_unreachable_ingress(capsys: pytest.CaptureFixture[str]) -> None:
    ingress = f"http://127.0.0.1:{pick_free_port()}"
    code, out, err = run_cli(capsys, "list", "--ingress", ingress)
    assert (code, out) == (1, "")
    assert err == (
        f"error: cannot reach the Restate ingress at {ingress}; start the stack with `resilient-agents up` "
        "or pass --ingress URL\n"
    )


def test_ingress_comes_from_the_flag_the_environment_or_up(
    ingress: Callable[..., FakeIngress],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    fake = ingress([])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESTATE_INGRESS_URL", raising=False)
    (tmp_path / ".restate").mkdir()
    run_cli(capsys, "list")
    (tmp_path / ".restate" / "up.json").write_text(json.dumps({"ingress_url": "http://up:8080"}))
    run_cli(capsys, "list")
    monkeypatch.setenv("RESTATE_INGRESS_URL", "http://env:8080")
    run_cli(capsys, "list")
    run_cli(capsys, "list", "--ingress", "http://flag:8080")
    hosts = [httpx.URL(url).host for url, _, _ in fake.posts]
    assert hosts == ["127.0.0.1", "up", "env", "flag"]


def test_subcommands_plug_into_the_main_parser() -> None:
    parser = argparse.ArgumentParser(prog="resilient-agents")
    add_approvals_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["approvals", "reject", "apr-1", "--note", "no"])
    assert args.func is _approvals.cmd_decide
    assert (args.id, args.approved, args.note, args.by, args.ingress) == ("apr-1", False, "no", None, None)
    assert parser.parse_args(["approvals", "list", "--json"]).as_json is True
    with pytest.raises(SystemExit) as exit_info:
        approvals_main(["approve"])
    assert exit_info.value.code == 2
