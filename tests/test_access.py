"""The access checks in isolation: session tokens, the HMAC authorizer, the approver credential."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import restate

from resilient_agents.access import (
    APPROVER_TOKEN_HEADER,
    SESSION_SECRET_ENV,
    check_approver,
    check_session_access,
    header_value,
    hmac_session_authorizer,
    session_token,
)


def _status(error: pytest.ExceptionInfo[restate.TerminalError]) -> int:
    return int(error.value.status_code)


def test_session_token_is_the_hex_hmac_of_the_key() -> None:
    expected = hmac.new(b"s", b"alice", hashlib.sha256).hexdigest()
    assert session_token("s", "alice") == session_token(b"s", "alice") == expected
    assert session_token("s", "alice") != session_token("s", "bob")


def test_header_value_ignores_case() -> None:
    assert header_value({"X-Session-Token": "t"}, "x-session-token") == "t"
    assert header_value({}, "x-session-token") is None


def test_hmac_authorizer_opens_exactly_one_session() -> None:
    authorize = hmac_session_authorizer("s")
    assert authorize("alice", {"x-session-token": session_token("s", "alice")})
    assert not authorize("bob", {"x-session-token": session_token("s", "alice")})
    with pytest.raises(restate.TerminalError) as missing:
        authorize("bob", {})
    assert _status(missing) == 401


def test_hmac_authorizer_reads_the_secret_at_each_check_and_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    authorize = hmac_session_authorizer(header="x-t")
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    with pytest.raises(restate.TerminalError, match=SESSION_SECRET_ENV) as unconfigured:
        authorize("alice", {"x-t": "anything"})
    assert _status(unconfigured) == 403
    monkeypatch.setenv(SESSION_SECRET_ENV, "env-secret")
    assert authorize("alice", {"x-t": session_token("env-secret", "alice")})


def test_check_session_access_turns_a_no_into_403() -> None:
    check_session_access(None, "alice", {})
    check_session_access(lambda key, headers: True, "alice", {})
    with pytest.raises(restate.TerminalError, match="'alice'") as refused:
        check_session_access(lambda key, headers: False, "alice", {})
    assert _status(refused) == 403


def test_check_approver() -> None:
    check_approver(None, {}, what="Approvals/default/list")  # Not configured: open.
    check_approver("t", {APPROVER_TOKEN_HEADER: "t"}, what="x")
    with pytest.raises(restate.TerminalError) as missing:
        check_approver("t", {}, what="Approvals/default/list")
    assert _status(missing) == 401
    with pytest.raises(restate.TerminalError) as wrong:
        check_approver("t", {APPROVER_TOKEN_HEADER: "u"}, what="x")
    assert _status(wrong) == 403
