"""``sessions show`` argument handling (the engine-backed output is tested in test_session_engine.py)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

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


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, name: str, handler: str) -> None:
    """A project whose running `up` (this test process stands in for it) registered one service."""
    (tmp_path / "pyproject.toml").write_text('[tool.resilient-agents.apps.demo]\napp = "demo.agent:app"\n')
    (tmp_path / ".restate").mkdir()
    service = {"name": name, "kind": kind, "handlers": [{"name": handler, "input": "*/*"}]}
    state = {"app": "demo", "pid": os.getpid(), "services": [service]}
    (tmp_path / ".restate" / "up.json").write_text(json.dumps(state))
    monkeypatch.chdir(tmp_path)


def test_show_refuses_an_app_without_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, monkeypatch, "service", "Agent", "run")
    args = parse(["sessions", "show", "demo", "k1"])
    assert args.func(args) == 2
    assert "has no sessions" in capsys.readouterr().err


def test_show_resolves_the_object_of_a_keyed_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, monkeypatch, "virtual_object", "DemoSession", "message")
    port = pick_free_port()
    args = parse(["sessions", "show", "demo", "k1", "--ingress", f"http://127.0.0.1:{port}"])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Restate ingress" in err and f":{port}" in err
