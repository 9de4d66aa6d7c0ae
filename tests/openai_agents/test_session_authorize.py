"""``session_object(authorize=...)`` on the real engine: refused callers change nothing and cause no model call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.models import Reply
from resilient_agents.testing import AgentTestEnv

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]


def _post(env: AgentTestEnv, path: str, body: Any = None, user: str | None = None) -> httpx.Response:
    headers = {"x-user": user} if user is not None else {}
    return httpx.post(f"{env.engine.ingress_url}/{path}", json=body, headers=headers, timeout=60)


def _state(env: AgentTestEnv, key: str) -> list[dict[str, Any]]:
    return env.query(
        f"SELECT key, value_utf8 FROM state WHERE service_name = 'Private' AND service_key = '{key}' ORDER BY key"
    )


def test_only_the_sessions_user_gets_in(tmp_path: Path) -> None:
    with AgentTestEnv("tests.openai_agents.authorized_session_app:app", tmp_path, pythonpath=[ROOT]) as env:
        env.scripted.push(Reply.say("Hi bob."))
        answer = _post(env, "Private/bob/message", "hello", user="bob")
        assert answer.status_code == 200, answer.text
        assert answer.json() == "Hi bob."
        before, requests = _state(env, "bob"), len(env.scripted.received)
        assert before

        for handler, body in (("message", "give me bob's history"), ("history", None), ("clear", None)):
            refused = _post(env, f"Private/bob/{handler}", body, user="mallory")
            assert refused.status_code == 403, (handler, refused.text)
            assert "not allowed to use session 'bob'" in refused.text
        assert _post(env, "Private/bob/message", "hi").status_code == 403  # No header at all.

        assert _state(env, "bob") == before
        assert len(env.scripted.received) == requests
        history = _post(env, "Private/bob/history", user="bob")
        assert history.status_code == 200
        assert history.json()["turns"] == 1
