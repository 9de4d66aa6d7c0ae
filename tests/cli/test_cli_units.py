"""CLI behaviour that needs no engine: bad input, exit codes, rendering."""

from __future__ import annotations

import pytest

from resilient_agents.cli import main
from resilient_agents.cli._sessions import format_history


def test_unknown_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--app", "nope", "hi"]) == 2
    assert "unknown app 'nope'" in capsys.readouterr().err


def test_an_ingress_without_a_scheme_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--to", "Agent/run", "--ingress", "127.0.0.1:1", "--admin", "http://127.0.0.1:1", "hi"]) == 1
    assert "is --ingress a URL" in capsys.readouterr().err


def test_an_unreachable_ingress_says_how_to_start_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["chat", "--to", "Agent/run", "--ingress", "http://127.0.0.1:1", "--admin", "http://127.0.0.1:1", "hi"])
        == 1
    )
    assert "start the stack with `resilient-agents up weather`" in capsys.readouterr().err


def test_a_negative_timeout_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["chat", "--timeout", "-1", "hi"])
    assert exited.value.code == 2
    assert "above 0" in capsys.readouterr().err


def test_status_of_an_unreachable_engine_keeps_stdout_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json", "--admin", "http://127.0.0.1:1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "not reachable" in captured.err


def test_sessions_show_renders_native_loop_sessions() -> None:
    snapshot = {
        "schema_version": 1,
        "current_agent": "banking_agent",
        "turn_running": False,
        "history": [
            {"role": "user", "text": "how much is my balance?"},
            {"role": "assistant", "text": "", "tool_calls": [{"call_id": "c1", "name": "get_balance"}]},
            {"role": "tool", "text": "1200.00", "call_id": "c1"},
            {"role": "assistant", "text": "Your balance is 1200.00."},
        ],
    }
    lines = format_history(snapshot, "BankSession")
    assert lines[0] == "session (BankSession) · current agent: banking_agent"
    assert lines[1:] == [
        "user: how much is my balance?",
        "  → get_balance()",
        "  ← 1200.00",
        "assistant: Your balance is 1200.00.",
    ]
