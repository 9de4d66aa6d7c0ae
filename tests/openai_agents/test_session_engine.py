"""Durable session memory on the real engine (issue 3: item 1, acceptance 5-7).

One engine and one served ``tests.apps.session_app`` for the whole module; every test uses its own
session keys. The model answers from a script when one is queued and otherwise echoes the last user
message, so turns that nobody scripted still get an answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from resilient_agents.cli._sessions import sessions_show
from resilient_agents.models import ParsedRequest, Reply, ScriptedModel
from resilient_agents.models.reply import Fault
from resilient_agents.testing import AgentTestEnv, wait_until
from tests.apps.session_app import FAQ_INSTRUCTIONS

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
OBJECT = "Support"


class ScriptOrEcho:
    """The scripted replies while any are queued, else ``echo: <last user text>``; keeps every request."""

    def __init__(self) -> None:
        self.scripted = ScriptedModel()
        self._lock = threading.Lock()
        self.seen: list[ParsedRequest] = []

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        with self._lock:
            self.seen.append(request)
        if self.scripted.pending:
            return self.scripted.respond(request)
        return Reply.say(f"echo: {request.last_user_text}")


@pytest.fixture(scope="module")
def model() -> ScriptOrEcho:
    return ScriptOrEcho()


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, model: ScriptOrEcho, gate: Path) -> Iterator[AgentTestEnv]:
    with AgentTestEnv(
        "tests.apps.session_app:app",
        tmp_path_factory.mktemp("engine"),
        model=model,
        env={"GATE_DIR": str(gate)},
        pythonpath=[ROOT],
    ) as started:
        yield started


def say(env: AgentTestEnv, key: str, text: str, **kwargs: Any) -> str:
    response = env.call(f"{OBJECT}/{key}/message", text, **kwargs)
    assert response.status_code == 200, response.text
    answer: str = response.json()
    return answer


def post_empty(env: AgentTestEnv, path: str) -> httpx.Response:
    # Handlers without input: the ingress rejects a body or a content type.
    return httpx.post(f"{env.engine.ingress_url}/{path}", timeout=10)


def history(env: AgentTestEnv, key: str) -> dict[str, Any]:
    response = post_empty(env, f"{OBJECT}/{key}/history")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def texts(items: list[dict[str, Any]], role: str) -> list[str]:
    found = []
    for item in items:
        if item.get("role") != role:
            continue
        content = item["content"]
        found.append(content if isinstance(content, str) else " ".join(part.get("text", "") for part in content))
    return found


def stored_record(env: AgentTestEnv, key: str) -> dict[str, Any]:
    """The head record under ``agents_session``, with the items of its chunks (``agents_session:items:<n>``)."""
    rows = env.query(
        f"SELECT key, value_utf8 FROM state WHERE service_name = '{OBJECT}' AND service_key = '{key}' "
        "AND key LIKE 'agents_session%'"  # The conversation; the session's token usage is a key of its own.
    )
    values = {str(row["key"]): json.loads(row["value_utf8"]) for row in rows}
    record: dict[str, Any] = values.pop("agents_session")
    record["items"] = [item for n in range(record["log"]["chunks"]) for item in values.pop(f"agents_session:items:{n}")]
    assert values == {}, values
    return record


def test_history_is_kept_per_session_and_stored_with_a_schema_version(env: AgentTestEnv, model: ScriptOrEcho) -> None:
    assert say(env, "alice", "my bag is lost") == "echo: my bag is lost"
    assert say(env, "bob", "is there wifi?") == "echo: is there wifi?"
    before = len(model.seen)
    assert say(env, "alice", "it is blue") == "echo: it is blue"

    # The model saw Alice's first exchange, and nothing of Bob's.
    request = model.seen[before]
    assert [m.text for m in request.messages if m.role in ("user", "assistant")] == [
        "my bag is lost",
        "echo: my bag is lost",
        "it is blue",
    ]
    alice, bob = history(env, "alice"), history(env, "bob")
    assert texts(alice["items"], "user") == ["my bag is lost", "it is blue"]
    assert texts(alice["items"], "assistant") == ["echo: my bag is lost", "echo: it is blue"]
    assert texts(bob["items"], "user") == ["is there wifi?"]
    assert (alice["schema_version"], alice["session"], alice["current_agent"]) == (1, "alice", "Triage")
    assert (alice["turns"], alice["turn_running"], alice["pending_items"]) == (2, False, [])

    record = stored_record(env, "alice")
    assert record["schema_version"] == 2 and record["turns"] == 2
    assert record["items"] == alice["items"]


def test_the_agent_that_spoke_last_answers_the_next_message(env: AgentTestEnv, model: ScriptOrEcho) -> None:
    model.scripted.push(Reply.call("transfer_to_faq"), Reply.say("FAQ here: one bag is free."))
    assert say(env, "carol", "how many bags can I bring?") == "FAQ here: one bag is free."
    assert history(env, "carol")["current_agent"] == "FAQ"

    before = len(model.seen)
    response = env.call(f"{OBJECT}/carol/message", "and wifi?")
    assert response.status_code == 200, response.text
    assert model.seen[before].instructions == FAQ_INSTRUCTIONS  # FAQ answered, not Triage.
    steps = [e.name for e in env.journal(response.headers["x-restate-id"]) if e.name.startswith("llm:")]
    assert steps == ["llm: FAQ #1"]
    assert history(env, "carol")["current_agent"] == "FAQ"


def started(gate: Path, topic: str) -> int:
    return sum(1 for p in gate.iterdir() if p.name.startswith(f"started-{topic}-"))


@pytest.mark.parametrize("tool", ["slow_lookup", "slow_plain_lookup"], ids=["durable-tool", "plain-tool"])
def test_history_is_readable_while_a_turn_waits_in_a_slow_tool(
    env: AgentTestEnv, model: ScriptOrEcho, gate: Path, capsys: pytest.CaptureFixture[str], tool: str
) -> None:
    key = f"dave-{tool}"
    say(env, key, "hello")
    model.scripted.push(Reply.call(tool, topic=key), Reply.say("Found it in the archive."))
    invocation = env.send(f"{OBJECT}/{key}/message", "look in the archive")
    wait_until(lambda: started(gate, key) == 1, what="the slow tool to start")

    during = history(env, key)  # The shared handler answers while the exclusive turn is blocked.
    assert during["turn_running"] is True
    assert texts(during["items"], "user") == ["hello", "look in the archive"]
    assert [(i["type"], i["name"]) for i in during["pending_items"]] == [("function_call", tool)]
    assert env.invocation_status(invocation) != "completed"

    ingress = env.engine.ingress_url
    assert sessions_show(ingress, OBJECT, key, as_json=False) == 0
    shown = capsys.readouterr().out
    assert "current agent: Triage" in shown and "user: look in the archive" in shown
    assert f'→ {tool}({{"topic": "{key}"}})' in shown and "turn in progress" in shown

    (gate / f"release-{key}").touch()
    response = env.attach(invocation)
    assert response.json() == "Found it in the archive."
    after = history(env, key)
    assert (after["turn_running"], after["pending_items"], after["turns"]) == (False, [], 2)
    outputs = [i["output"] for i in after["items"] if i.get("type") == "function_call_output"]
    assert outputs == [f"archive entry about {key}"]
    assert sessions_show(ingress, OBJECT, key, as_json=False) == 0
    assert f"← archive entry about {key}" in capsys.readouterr().out
    assert sessions_show(ingress, OBJECT, key, as_json=True) == 0
    assert json.loads(capsys.readouterr().out) == after
    assert sessions_show(ingress, "NoSuchObject", key, as_json=False) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_kill_during_a_turn_keeps_each_history_item_once(env: AgentTestEnv, model: ScriptOrEcho, gate: Path) -> None:
    say(env, "gina", "hello")
    model.scripted.push(Reply.call("slow_lookup", topic="gina"), Reply.say("Found it after the crash."))
    before = len(model.seen)
    invocation = env.send(f"{OBJECT}/gina/message", "look in the archive")
    wait_until(lambda: started(gate, "gina") == 1, what="the slow tool to start")

    env.kill_service()
    env.restart_service()
    wait_until(lambda: started(gate, "gina") == 2, what="the tool to run again after the restart")
    (gate / "release-gina").touch()
    assert env.attach(invocation).json() == "Found it after the crash."

    assert len(model.seen) - before == 2  # The journaled model call was not repeated.
    items = history(env, "gina")["items"]
    assert texts(items, "user") == ["hello", "look in the archive"]
    assert [i.get("type") for i in items].count("function_call") == 1
    assert [i.get("type") for i in items].count("function_call_output") == 1
    assert texts(items, "assistant") == ["echo: hello", "Found it after the crash."]
    assert history(env, "gina")["turns"] == 2


def test_hundred_concurrent_messages_each_appear_once_and_turns_run_one_at_a_time(
    env: AgentTestEnv, model: ScriptOrEcho
) -> None:
    messages = [f"message {n:03d}" for n in range(100)]
    requests_before = len(model.seen)
    with ThreadPoolExecutor(max_workers=20) as pool:
        invocations = list(pool.map(lambda text: env.send(f"{OBJECT}/crowd/message", text), messages))
        answers = list(pool.map(lambda inv: env.attach(inv, timeout=120).json(), invocations))
    assert answers == [f"echo: {text}" for text in messages]

    items = history(env, "crowd")["items"]
    users = texts(items, "user")
    assert sorted(users) == messages  # Each message exactly once.
    # Serialized turns: every user message is directly followed by its own answer.
    roles = [item["role"] for item in items]
    assert roles == ["user", "assistant"] * 100
    assert texts(items, "assistant") == [f"echo: {text}" for text in users]
    assert len(model.seen) - requests_before == 100
    # Each turn's model request held the complete history of every earlier turn.
    sizes = sorted(len(request.messages) for request in model.seen[requests_before:])
    assert sizes == [2 * n + 1 for n in range(100)]


def test_same_message_twice_with_one_idempotency_key_runs_one_turn(env: AgentTestEnv, model: ScriptOrEcho) -> None:
    before = len(model.seen)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: say(env, "erin", "book seat 10B", idempotency_key="erin-1"), range(2)))
    assert answers == ["echo: book seat 10B", "echo: book seat 10B"]
    assert say(env, "erin", "book seat 10B", idempotency_key="erin-1") == "echo: book seat 10B"
    assert len(model.seen) - before == 1
    assert texts(history(env, "erin")["items"], "user") == ["book seat 10B"]
    assert history(env, "erin")["turns"] == 1


def test_bad_input_is_rejected_and_clear_forgets_the_conversation(env: AgentTestEnv) -> None:
    say(env, "frank", "hi")
    bad = env.call(f"{OBJECT}/frank/message", raw=b"42", timeout=20)
    assert bad.status_code == 400 and "got a JSON number" in bad.json()["message"]
    assert history(env, "frank")["turns"] == 1

    assert post_empty(env, f"{OBJECT}/frank/clear").status_code == 200
    cleared = history(env, "frank")
    assert (cleared["items"], cleared["turns"], cleared["current_agent"]) == ([], 0, "Triage")
