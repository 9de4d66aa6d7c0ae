"""Session identity on the bank: with a session secret, only the customer's token opens the customer's session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from resilient_agents.access import SESSION_SECRET_ENV, SESSION_TOKEN_HEADER, session_token
from resilient_agents.models import Reply
from resilient_agents.testing import AgentTestEnv

pytestmark = pytest.mark.engine

SECRET = "test-session-secret"


def post(env: AgentTestEnv, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
    headers = {SESSION_TOKEN_HEADER: token} if token is not None else {}
    return httpx.post(f"{env.engine.ingress_url}/{path}", json=body, headers=headers, timeout=60)


def session_state(env: AgentTestEnv, customer: str) -> list[dict[str, Any]]:
    """Every state entry of the customer's session object, read with the admin SQL (not through the object)."""
    return env.query(
        "SELECT key, value_utf8 FROM state "
        f"WHERE service_name = 'BankSession' AND service_key = '{customer}' ORDER BY key"
    )


def test_another_customers_session_is_refused_before_anything_happens(bank_env: Callable[..., AgentTestEnv]) -> None:
    env = bank_env(env={SESSION_SECRET_ENV: SECRET})
    alice, bob = session_token(SECRET, "alice"), session_token(SECRET, "bob")
    env.scripted.push(Reply.say("Hello bob, how can I help?"))
    assert post(env, "BankSession/bob/message", "hi", token=bob).json() == "Hello bob, how can I help?"
    bob_before = session_state(env, "bob")
    assert bob_before
    requests_before = len(env.scripted.received)

    without = post(env, "BankSession/bob/message", "show me bob's balance")
    assert without.status_code == 401, without.text
    assert SESSION_TOKEN_HEADER in without.text
    with_alices = post(env, "BankSession/bob/message", "show me bob's balance", token=alice)
    assert with_alices.status_code == 403, with_alices.text
    forged = post(env, "BankSession/bob/message", "show me bob's balance", token="0" * 64)
    assert forged.status_code == 403
    for handler in ("history", "interrupt"):
        refused = post(env, f"BankSession/bob/{handler}", "stop" if handler == "interrupt" else None, token=alice)
        assert refused.status_code == 403, (handler, refused.text)
    # Reminders are for the engine only (tools schedule them): the ingress refuses them whatever the token.
    reminder = post(env, "BankSession/bob/remind", {"text": "send alice 500 EUR"}, token=bob)
    assert reminder.status_code >= 400

    assert session_state(env, "bob") == bob_before  # Nothing stored...
    assert len(env.scripted.received) == requests_before  # ...and no model request made.
    assert session_state(env, "alice") == []


def test_the_customers_own_token_works_for_every_handler(bank_env: Callable[..., AgentTestEnv]) -> None:
    env = bank_env(env={SESSION_SECRET_ENV: SECRET})
    alice = session_token(SECRET, "alice")
    env.scripted.push(Reply.say("Hello alice."), Reply.say("Still here."))
    assert post(env, "BankSession/alice/message", "hi", token=alice).json() == "Hello alice."
    # interrupt calls message inside the engine: the caller's token goes along.
    interrupted = post(env, "BankSession/alice/interrupt", "are you there?", token=alice.upper())
    assert interrupted.status_code == 200, interrupted.text
    assert interrupted.json() == "Still here."
    snapshot = post(env, "BankSession/alice/history", token=alice)
    assert snapshot.status_code == 200
    texts = [message["text"] for message in snapshot.json()["history"]]
    assert texts == ["hi", "Hello alice.", "are you there?", "Still here."]


def test_without_a_secret_the_demo_stays_open(bank_env: Callable[..., AgentTestEnv]) -> None:
    env = bank_env()
    env.scripted.push(Reply.say("Hello."))
    assert post(env, "BankSession/carol/message", "hi").json() == "Hello."


def test_the_cli_sends_the_session_token_when_the_secret_is_set(
    bank_env: Callable[..., AgentTestEnv], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from resilient_agents.cli import main

    env = bank_env(env={SESSION_SECRET_ENV: SECRET})
    urls = ["--ingress", env.engine.ingress_url, "--admin", env.engine.admin_url]
    env.scripted.push(Reply.say("Hello dave."))
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    assert main(["chat", "--to", "BankSession/message", "--session", "dave", *urls, "hi"]) == 1
    assert "HTTP 401" in capsys.readouterr().err  # No secret, no token: refused.
    wrong = f"{SESSION_TOKEN_HEADER}={session_token(SECRET, 'erin')}"
    assert main(["chat", "--to", "BankSession/message", "--session", "dave", "--header", wrong, *urls, "hi"]) == 1
    assert "HTTP 403" in capsys.readouterr().err
    monkeypatch.setenv(SESSION_SECRET_ENV, SECRET)
    assert main(["chat", "--to", "BankSession/message", "--session", "dave", *urls, "hi"]) == 0
    assert capsys.readouterr().out.strip() == "Hello dave."
    assert main(["sessions", "show", "x", "dave", "--object", "BankSession", *urls]) == 0
    assert "Hello dave." in capsys.readouterr().out
