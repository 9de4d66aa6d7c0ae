"""``resilient-agents approvals`` without an engine: the table, exact ids, routing of decisions, refusals, errors."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.approvals import DecidedApproval, PendingApproval, ResolveTarget
from resilient_agents.approvals._admin import ListedApproval, Location
from resilient_agents.cli import _approvals
from resilient_agents.cli._approvals import (
    add_approvals_parser,
    approvals_main,
    format_duration,
    render_table,
    unknown_approval,
)
from resilient_agents.engine import pick_free_port
from resilient_agents.errors import EngineError

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


def _listed(ident: str, tenant: str = "default", registry: str = "Approvals", **extra: Any) -> ListedApproval:
    return ListedApproval(registry, tenant, _approval(ident, **extra))


class FakeEngine:
    """Stands in for the admin SQL lookups and ``httpx.post`` to the ingress; records every call."""

    def __init__(self, listed: list[ListedApproval], *, ended: dict[str, str] | None = None) -> None:
        self.listed = listed
        self.ended = ended or {}  # id -> the refusal the object answers with (HTTP 409).
        self.admin_calls: list[tuple[str, str, str | None, str | None]] = []
        self.posts: list[tuple[str, Any]] = []
        self.status: int | None = None

    def list_pending(self, admin: str, *, namespace: str | None, tenant: str | None) -> list[ListedApproval]:
        self.admin_calls.append(("list", admin, namespace, tenant))
        return [p for p in self.listed if tenant in (None, p.tenant)]

    def locate(self, admin: str, approval_id: str, *, namespace: str | None, tenant: str | None) -> list[Location]:
        self.admin_calls.append(("locate", admin, namespace, tenant))
        places = [Location(p.registry, p.tenant, True) for p in self.listed if p.approval.id == approval_id]
        if approval_id in self.ended:
            places.append(Location("Approvals", "default", False))
        return [p for p in places if tenant in (None, p.tenant)]

    def post(self, url: str, *, content: bytes | None, headers: dict[str, str], timeout: float) -> httpx.Response:
        body = json.loads(content) if content else None
        self.posts.append((url, body))
        request = httpx.Request("POST", url)
        assert body is not None
        if self.status is not None:
            return httpx.Response(self.status, json={"message": "boom"}, request=request)
        if body["id"] in self.ended:
            return httpx.Response(409, json={"code": 409, "message": self.ended[body["id"]]}, request=request)
        found = next(p for p in self.listed if p.approval.id == body["id"])
        record = DecidedApproval(
            id=body["id"],
            title=found.approval.title,
            status="approved" if body["approved"] else "rejected",
            by=body["by"],
            note=body["note"],
            created_at_ms=found.approval.created_at_ms,
            decided_at_ms=NOW,
        )
        return httpx.Response(200, content=record.model_dump_json(), request=request)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeEngine]:
    def install(listed: list[ListedApproval], **kwargs: Any) -> FakeEngine:
        fake = FakeEngine(listed, **kwargs)
        monkeypatch.setattr(_approvals, "list_pending", fake.list_pending)
        monkeypatch.setattr(_approvals, "locate", fake.locate)
        monkeypatch.setattr(httpx, "post", fake.post)
        return fake

    return install


URLS = ("--ingress", "http://x:1/", "--admin", "http://adm:2")


def test_table_shows_id_tenant_title_requester_age_and_expiry() -> None:
    table = render_table(
        [
            _listed("apr-1", age_s=200, expires_in_s=100),
            _listed("flow-loan-7", "bank", title="loan " + "x" * 80, requested_by="", expires_in_s=None),
            _listed("apr-3", age_s=7200, expires_in_s=-5),
        ],
        now_ms=NOW,
    )
    title = "loan " + "x" * 42 + "…"
    assert table.splitlines() == [
        "ID           TENANT   TITLE                                             REQUESTED BY  AGE     EXPIRES IN",
        "apr-1        default  title of apr-1                                    agent         3m 20s  1m 40s",
        f"flow-loan-7  bank     {title}  -             0s      never",
        "apr-3        default  title of apr-3                                    agent         2h      expired",
    ]
    assert render_table([], now_ms=NOW) == "no pending approvals"


def test_table_names_the_registry_when_one_is_namespaced() -> None:
    table = render_table([_listed("a-1"), _listed("b-1", "t", "acme.Approvals")], now_ms=NOW)
    header, first, second = table.splitlines()
    assert header.split()[:3] == ["ID", "REGISTRY", "TENANT"]
    assert first.split()[:3] == ["a-1", "Approvals", "default"]
    assert second.split()[:3] == ["b-1", "acme.Approvals", "t"]


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (59_999, "59s"), (60_000, "1m"), (200_000, "3m 20s"), (3_605_000, "1h"), (90_000_000, "1d 1h")],
)
def test_durations(ms: int, text: str) -> None:
    assert format_duration(ms) == text


def test_an_unknown_id_names_close_matches() -> None:
    ids = ["apr-12", "apr-13", "flow-1"]
    assert unknown_approval("apr-1", ids) == (
        "no approval 'apr-1'; ids must match exactly. Close matches: 'apr-12', 'apr-13'. "
        "`resilient-agents approvals list` shows the pending ones."
    )
    assert unknown_approval("flw-1", ids).startswith(
        "no approval 'flw-1'; ids must match exactly. Close matches: 'flow-1'."
    )
    assert unknown_approval("zzz", ids) == (
        "no approval 'zzz'; ids must match exactly. `resilient-agents approvals list` shows the pending ones."
    )


def test_approve_goes_to_the_tenants_object(
    engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = engine([_listed("apr-1", "shop/eu")])
    code, out, err = run_cli(capsys, "approve", "apr-1", "--by", "ana", "--note", "ok", *URLS)
    assert (code, out, err) == (0, "approved apr-1: title of apr-1\n", "")
    assert fake.admin_calls == [("locate", "http://adm:2", None, None)]
    [(url, body)] = fake.posts
    assert url == "http://x:1/Approvals/shop%2Feu/decide"  # The tenant is one path segment.
    assert body == {"id": "apr-1", "approved": True, "by": "ana", "note": "ok"}


def test_reject_with_namespace_and_tenant(
    engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = engine([_listed("loan-c-7", "c-7", "bank.Approvals")])
    code, out, _ = run_cli(capsys, "reject", "loan-c-7", "--by", "bo", "--namespace", "bank", "--tenant", "c-7", *URLS)
    assert (code, out) == (0, "rejected loan-c-7: title of loan-c-7\n")
    assert fake.admin_calls == [("locate", "http://adm:2", "bank", "c-7")]
    assert fake.posts == [
        ("http://x:1/bank.Approvals/c-7/decide", {"id": "loan-c-7", "approved": False, "by": "bo", "note": None})
    ]


def test_by_defaults_to_the_user_name(
    engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "someone")
    fake = engine([_listed("apr-1")])
    assert run_cli(capsys, "approve", "apr-1", *URLS)[0] == 0
    assert fake.posts[0][1]["by"] == "someone"


def test_a_refused_decision_fails_with_the_objects_reason(
    engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    engine([], ended={"apr-late": "too late: timed_out (approval 'apr-late': no decision within 1h)"})
    code, out, err = run_cli(capsys, "approve", "apr-late", *URLS)
    assert (code, out) == (1, "")
    assert err == "error: too late: timed_out (approval 'apr-late': no decision within 1h)\n"


def test_a_prefix_is_not_an_id(engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]) -> None:
    fake = engine([_listed("apr-12"), _listed("apr-13")])
    code, _, err = run_cli(capsys, "approve", "apr-1", *URLS)
    assert code == 1
    assert err == (
        "error: no approval 'apr-1'; ids must match exactly. Close matches: 'apr-12', 'apr-13'. "
        "`resilient-agents approvals list` shows the pending ones.\n"
    )
    assert fake.posts == []


def test_an_id_in_several_tenants_needs_a_tenant(
    engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    fake = engine([_listed("apr-1", "a"), _listed("apr-1", "b")])
    code, _, err = run_cli(capsys, "approve", "apr-1", *URLS)
    assert code == 1
    assert err == (
        "error: approval 'apr-1' exists in several places (Approvals/a, Approvals/b); "
        "pass --tenant KEY (and --namespace NS)\n"
    )
    assert run_cli(capsys, "approve", "apr-1", "--tenant", "b", *URLS)[0] == 0
    assert [url for url, _ in fake.posts] == ["http://x:1/Approvals/b/decide"]


def test_http_errors_are_reported(engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]) -> None:
    engine([_listed("apr-1")]).status = 500
    code, _, err = run_cli(capsys, "approve", "apr-1", *URLS)
    assert code == 1
    assert err == "error: HTTP 500 from http://x:1/Approvals/default/decide: boom\n"


def test_list_json_and_table(engine: Callable[..., FakeEngine], capsys: pytest.CaptureFixture[str]) -> None:
    engine([_listed("apr-1", "shop", details={"seat": "1A"})])
    code, out, _ = run_cli(capsys, "list", "--json", "--admin", "http://adm:2")
    assert code == 0
    [entry] = json.loads(out)
    assert (entry["registry"], entry["tenant"], entry["id"]) == ("Approvals", "shop", "apr-1")
    assert entry["details"] == {"seat": "1A"}
    code, out, _ = run_cli(capsys, "list", "--admin", "http://adm:2")
    assert code == 0 and out.splitlines()[1].startswith("apr-1 ")


def test_unreachable_engine(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    admin = f"http://127.0.0.1:{pick_free_port()}"
    code, out, err = run_cli(capsys, "list", "--admin", admin)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: cannot read the approvals from the Restate admin API at {admin} (")
    assert err.endswith("start the stack with `resilient-agents up` or pass --admin URL\n")

    def found(*args: object, **kwargs: object) -> list[Location]:
        return [Location("Approvals", "default", True)]

    monkeypatch.setattr(_approvals, "locate", found)
    ingress = f"http://127.0.0.1:{pick_free_port()}"
    code, _, err = run_cli(capsys, "approve", "apr-1", "--ingress", ingress, "--admin", admin)
    assert code == 1
    assert err == (
        f"error: cannot reach the Restate ingress at {ingress}; start the stack with `resilient-agents up` "
        "or pass --ingress URL\n"
    )


def test_a_bad_namespace_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "list", "--namespace", "a/b", "--admin", "http://adm:2")
    assert code == 1
    assert "approvals namespace 'a/b' makes the service name 'a/b.Approvals', which Restate rejects" in err


def test_urls_come_from_the_flag_the_environment_or_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admins: list[str] = []

    def list_pending(admin: str, **kwargs: object) -> list[ListedApproval]:
        admins.append(admin)
        return []

    def locate(admin: str, approval_id: str, **kwargs: object) -> list[Location]:
        return [Location("Approvals", "default", True)]

    ingresses: list[str] = []

    def post(url: str, **kwargs: object) -> httpx.Response:
        ingresses.append(httpx.URL(url).host)
        return httpx.Response(409, json={"message": "too late"}, request=httpx.Request("POST", url))

    monkeypatch.setattr(_approvals, "list_pending", list_pending)
    monkeypatch.setattr(_approvals, "locate", locate)
    monkeypatch.setattr(httpx, "post", post)
    monkeypatch.chdir(tmp_path)
    for name in ("RESTATE_INGRESS_URL", "RESTATE_ADMIN_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".restate").mkdir()

    def both() -> None:
        run_cli(capsys, "list")
        run_cli(capsys, "approve", "x")

    both()
    (tmp_path / ".restate" / "up.json").write_text(
        json.dumps({"ingress_url": "http://up:8080", "admin_url": "http://up-admin:9070"})
    )
    both()
    monkeypatch.setenv("RESTATE_INGRESS_URL", "http://env:8080")
    monkeypatch.setenv("RESTATE_ADMIN_URL", "http://env-admin:9070")
    both()
    run_cli(capsys, "list", "--admin", "http://flag-admin:9070")
    run_cli(capsys, "approve", "x", "--ingress", "http://flag:8080")
    assert [httpx.URL(a).host for a in admins] == ["127.0.0.1", "up-admin", "env-admin", "flag-admin"]
    assert ingresses == ["127.0.0.1", "up", "env", "flag"]


def test_subcommands_plug_into_the_main_parser() -> None:
    parser = argparse.ArgumentParser(prog="resilient-agents")
    add_approvals_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["approvals", "reject", "apr-1", "--note", "no"])
    assert args.func is _approvals.cmd_decide
    assert (args.id, args.approved, args.note, args.by, args.ingress, args.admin) == (
        "apr-1",
        False,
        "no",
        None,
        None,
        None,
    )
    assert (args.namespace, args.tenant) == (None, None)
    assert parser.parse_args(["approvals", "list", "--json"]).as_json is True
    with pytest.raises(SystemExit) as exit_info:
        approvals_main(["approve"])
    assert exit_info.value.code == 2


def test_engine_errors_from_the_lookup_are_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> list[Location]:
        raise EngineError("Restate rejected the query")

    monkeypatch.setattr(_approvals, "locate", broken)
    code, _, err = run_cli(capsys, "approve", "apr-1", *URLS)
    assert code == 1
    assert "Restate rejected the query" in err and "--admin URL" in err
