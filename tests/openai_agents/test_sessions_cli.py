"""``sessions show`` argument handling (the engine-backed output is tested in test_session_engine.py)."""

from __future__ import annotations

import argparse

import pytest

from resilient_agents.cli._apps import EXAMPLES, AppInfo
from resilient_agents.cli._sessions import add_sessions_parser
from resilient_agents.engine import pick_free_port


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="resilient-agents")
    add_sessions_parser(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def test_show_parses_app_key_and_options() -> None:
    args = parse(["sessions", "show", "airline", "customer-7", "--json", "--ingress", "http://127.0.0.1:1"])
    assert (args.app, args.key, args.as_json, args.ingress, args.object) == (
        "airline",
        "customer-7",
        True,
        "http://127.0.0.1:1",
        None,
    )


def test_show_refuses_an_app_without_sessions(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["sessions", "show", "weather", "k1"])
    assert args.func(args) == 2
    assert "has no sessions" in capsys.readouterr().err


def test_show_resolves_the_object_of_a_keyed_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyed = AppInfo("demo", "demo.agent:app", "DemoSession", "message", True, "Hi")
    monkeypatch.setitem(EXAMPLES, "demo", keyed)
    port = pick_free_port()
    args = parse(["sessions", "show", "demo", "k1", "--ingress", f"http://127.0.0.1:{port}"])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Restate ingress" in err and f":{port}" in err
