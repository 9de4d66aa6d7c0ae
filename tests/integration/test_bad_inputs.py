"""The bad-input catalogue: no input makes Restate retry an invocation forever or block a session key.

Each case sends one bad input (a request body, or a model answer from the scripted model) to a real engine
and checks three things:

1. the invocation ends: it succeeds with a clear answer, or fails terminally with a clear message (the
   engine's ``sys_invocation`` row reaches ``completed`` with at most a few retries; a case that keeps
   retrying fails as soon as its retry count passes the limit, not after a timeout);
2. the service keeps answering;
3. the next message to the same session key works.

One engine per app serves all of that app's cases (a parametrized test sharing a module-scoped
environment); each case has its own session key and its own script in a :class:`RoutedModel`, so cases
cannot disturb each other. Tests wait for the engine's observable state, never for elapsed time; the only
time limit is a generous safety net.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import pytest

from resilient_agents.models import Fault, ParsedRequest, Reply, ToolCall
from resilient_agents.models.request import Responder
from resilient_agents.testing import AgentTestEnv, wait_until
from resilient_agents.testing.pytest_plugin import stop_all

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
SAFETY_SECONDS = 120.0
"""Only a safety net for a broken engine: every wait below ends on an observable state long before."""
_TAG = re.compile(r"\[case:([\w-]+)\]")

ScriptItem = Reply | Fault | Callable[[ParsedRequest], Reply | Fault]


class RoutedModel(Responder):
    """A scripted model with one script per case: a request belongs to the case tagged in its user messages.

    A case's message starts with ``[case:<id>]``; every later request of that conversation carries it too.
    When a case's script runs out the model says so (a plain answer, so nothing is retried because of it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[ScriptItem]] = {}
        self.requests: dict[str, int] = {}

    def script(self, case: str, *items: ScriptItem) -> None:
        """Queue answers for ``case``."""
        with self._lock:
            self._scripts.setdefault(case, deque()).extend(items)

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        """Answer with the next item of the tagged case's script."""
        case = next((m.group(1) for text in request.user_texts() if (m := _TAG.search(text))), "untagged")
        with self._lock:
            self.requests[case] = self.requests.get(case, 0) + 1
            queue = self._scripts.get(case)
            item = queue.popleft() if queue else None
        if item is None:
            return Reply.say(f"script ran out for case {case}")
        return item if isinstance(item, Reply | Fault) else item(request)


# -- scripted model answers ---------------------------------------------------------------------------------


def call(name: str, arguments: str | dict[str, Any]) -> Reply:
    """A model answer calling one tool with exactly these arguments (a string is sent as it is)."""
    return Reply.calls(ToolCall(name, arguments))


def quote_tool_output(request: ParsedRequest) -> Reply:
    """Answers with the last tool output, so the test can read what the model was told."""
    outputs = [m for m in request.messages if m.role == "tool"]
    return Reply.say(f"the tool said: {outputs[-1].text}" if outputs else "no tool output reached me")


def forever(name: str, arguments: dict[str, Any]) -> Callable[[ParsedRequest], Reply]:
    """A model that never stops calling a tool."""
    return lambda request: call(name, arguments)


# -- the catalogue ------------------------------------------------------------------------------------------

Outcome = Literal["answer", "terminal", "either", "rejected"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input and what must come of it."""

    id: str
    """Unique; also the session key suffix and the script's tag."""
    app: str
    """Which environment serves it (a key of :data:`APPS`)."""
    path: str
    """``<Service>/<handler>`` or ``<Object>/{key}/<handler>``; ``{key}`` becomes the case's session key."""
    expect: Outcome
    """``answer``: HTTP 200; ``terminal``: a terminal failure; ``either`` of the two (both are fine for a
    tool bug: the model reads the error, or the turn fails); ``rejected``: the ingress refuses the request."""
    says: str
    """Text the answer or the error message must contain (case-insensitive)."""
    body: bytes | None = None
    """The exact request body; ``None`` sends the tagged message ``"[case:<id>] please help"``."""
    script: tuple[ScriptItem, ...] = ()
    """The model's answers for this case."""
    key: str | None = None
    """The session key (URL-encoded into the path); ``None`` uses ``k-<id>``."""
    max_retries: int = 2
    """Most engine retries the invocation may take (transient failures take a few; none loops)."""


def _loop(case_id: str, path: str, expect: Outcome, says: str, **kw: Any) -> Case:
    return Case(case_id, "loop", path, expect, says, **kw)


def _sdk(case_id: str, path: str, expect: Outcome, says: str, **kw: Any) -> Case:
    return Case(case_id, "sdk", path, expect, says, **kw)


LOOP, LOOP_SERVICE = "Poison/{key}/message", "PoisonAgent/run"
SDK_SERVICE, SDK_SESSION = "ClerkService/run", "ClerkSession/{key}/message"
HUGE = json.dumps("x" * 40_000).encode()


LOOP_CASES = [
    _loop("loop-empty-body", LOOP, "rejected", "empty body not allowed", body=b""),
    _loop("loop-not-json", LOOP, "terminal", "not valid JSON", body=b"hello there"),
    _loop("loop-wrong-json-type", LOOP, "terminal", "got a JSON object", body=b'{"message": "hi"}'),
    _loop("loop-huge-body", LOOP, "terminal", "the maximum is", body=HUGE),
    _loop("loop-service-not-json", LOOP_SERVICE, "terminal", "not valid JSON", body=b"\xff\xfe"),
    _loop(
        "loop-key-characters",
        LOOP,
        "answer",
        "still fine",
        key="ünï cødé 'quoted' \"double\" <tag> %20 ;--",
        script=(Reply.say("still fine"),),
    ),
    _loop(
        "loop-unknown-tool",
        LOOP,
        "answer",
        "there is no tool 'launch_rocket'",
        script=(call("launch_rocket", {}), quote_tool_output),
    ),
    _loop(
        "loop-service-unknown-tool",
        LOOP_SERVICE,
        "answer",
        "there is no tool 'remind_me'",
        script=(call("remind_me", {"delay_seconds": 1}), quote_tool_output),
    ),
    _loop(
        "loop-truncated-arguments",
        LOOP,
        "answer",
        "not valid JSON",
        script=(call("lookup", '{"item": "wid'), quote_tool_output),
    ),
    _loop(
        "loop-arguments-not-an-object",
        LOOP,
        "answer",
        "must be a JSON object",
        script=(call("lookup", '["widgets"]'), quote_tool_output),
    ),
    _loop(
        "loop-schema-violation",
        LOOP,
        "answer",
        "invalid arguments for 'lookup'",
        script=(call("lookup", {"item": {"nested": True}}), quote_tool_output),
    ),
    _loop(
        "loop-undeclared-argument",
        LOOP,
        "answer",
        "takes no argument 'customer_id'",
        script=(call("lookup", {"item": "x", "customer_id": "bob"}), quote_tool_output),
    ),
    _loop(
        "loop-delay-1e20",
        LOOP,
        "answer",
        "out of range",
        script=(call("remind_me", '{"delay_seconds": 1e20}'), quote_tool_output),
    ),
    _loop(
        "loop-delay-inf",
        LOOP,
        "answer",
        "invalid arguments for 'remind_me'",
        script=(call("remind_me", {"delay_seconds": "inf"}), quote_tool_output),
    ),
    _loop(
        "loop-delay-nan",
        LOOP,
        "answer",
        "invalid arguments for 'remind_me'",
        script=(call("remind_me", {"delay_seconds": "nan"}), quote_tool_output),
    ),
    _loop(
        "loop-delay-negative",
        LOOP,
        "answer",
        "invalid arguments for 'remind_me'",
        script=(call("remind_me", {"delay_seconds": -5}), quote_tool_output),
    ),
    _loop(
        "loop-number-1e400",
        LOOP,
        "answer",
        "out of range",
        script=(call("double", '{"amount": 1e400}'), quote_tool_output),
    ),
    _loop(
        "loop-int-overflow-in-tool",
        LOOP,
        "answer",
        "OverflowError",
        script=(call("double", {"amount": 1e300, "times": 100}), quote_tool_output),
    ),
    _loop(
        "loop-tool-raises-type-error",
        LOOP,
        "answer",
        "TypeError",
        script=(call("broken", {"item": "x"}), quote_tool_output),
    ),
    _loop(
        "loop-service-tool-raises",
        LOOP_SERVICE,
        "answer",
        "TypeError",
        script=(call("broken", {"item": "x"}), quote_tool_output),
    ),
    _loop(
        "loop-tool-hangs-past-timeout",
        LOOP,
        "answer",
        "did not finish within 0.05 seconds",
        script=(call("hangs", {"item": "x"}), quote_tool_output),
        max_retries=3,
    ),
    _loop(
        "loop-handoff-with-garbage-arguments",
        LOOP,
        "answer",
        "transferred to 'helper'",
        script=(call("transfer_to_helper", "}{ not json"), quote_tool_output),
    ),
    _loop(
        "loop-model-body-not-json",
        LOOP,
        "answer",
        "after the glitch",
        script=(Fault.malformed(), Reply.say("after the glitch")),
        max_retries=3,
    ),
    _loop("loop-model-empty-answer", LOOP, "answer", "", script=(Reply(text=None),)),
    _loop(
        "loop-never-stops-calling-tools",
        "PoisonStrict/{key}/message",
        "terminal",
        "max_turns=3",
        script=(forever("lookup", {"item": "x"}),) * 3,
    ),
    _loop(
        "loop-never-stops-final-message",
        "PoisonGuarded/{key}/message",
        "answer",
        "allowed number of steps",
        script=(forever("lookup", {"item": "x"}),) * 3,
    ),
]

BANK = "BankSession/{key}/message"
BANK_CASES = [
    Case(
        "bank-transfer-below-a-cent",
        "bank",
        BANK,
        "answer",
        "greater than or equal to 0.01",
        script=(
            call("transfer_to_banking_agent", {}),
            call("transfer_money", {"to_customer": "bob", "amount": 0.001}),
            quote_tool_output,
        ),
    ),
    Case(
        "bank-month-9999-12",
        "bank",
        BANK,
        "answer",
        "out of range",
        script=(call("transfer_to_banking_agent", {}), call("get_spending", {"month": "9999-12"}), quote_tool_output),
    ),
    Case(
        "bank-remind-1e20",
        "bank",
        BANK,
        "answer",
        "out of range",
        script=(call("remind_me", '{"text": "pay rent", "delay_seconds": 1e20}'), quote_tool_output),
    ),
    Case(
        "bank-other-customers-id",
        "bank",
        BANK,
        "answer",
        "takes no argument 'customer_id'",
        script=(call("transfer_to_banking_agent", {}), call("get_balance", {"customer_id": "bob"}), quote_tool_output),
    ),
]

SDK_CASES = [
    _sdk("sdk-service-empty-body", SDK_SERVICE, "rejected", "empty body not allowed", body=b""),
    _sdk("sdk-session-not-json", SDK_SESSION, "terminal", "not valid JSON", body=b"{oops"),
    _sdk("sdk-service-wrong-json-type", SDK_SERVICE, "terminal", "got a JSON array", body=b'["hi"]'),
    _sdk("sdk-session-huge-body", SDK_SESSION, "terminal", "the maximum is", body=json.dumps("x" * 300_000).encode()),
    _sdk(
        "sdk-session-key-characters",
        SDK_SESSION,
        "answer",
        "still fine",
        key="ünï cødé 'q' \"d\" <t> ;--",
        script=(Reply.say("still fine"),),
    ),
    _sdk(
        "sdk-service-unknown-tool",
        SDK_SERVICE,
        "terminal",
        "tool launch_rocket not found",
        script=(call("launch_rocket", {}),),
    ),
    _sdk(
        "sdk-session-unknown-tool",
        SDK_SESSION,
        "terminal",
        "tool launch_rocket not found",
        script=(call("launch_rocket", {}),),
    ),
    _sdk(
        "sdk-service-truncated-arguments",
        SDK_SERVICE,
        "answer",
        "the tool said",
        script=(call("lookup", '{"item": "wid'), quote_tool_output),
    ),
    _sdk(
        "sdk-session-durable-tool-bad-arguments",
        SDK_SESSION,
        "answer",
        "the tool said",
        script=(call("durable_lookup", '{"item": 5, "extra": [}'), quote_tool_output),
    ),
    _sdk(
        "sdk-service-schema-violation",
        SDK_SERVICE,
        "answer",
        "the tool said",
        script=(call("double", {"amount": {"not": "a number"}}), quote_tool_output),
    ),
    _sdk(
        "sdk-session-number-1e400",
        SDK_SESSION,
        "answer",
        "the tool said",
        script=(call("double", '{"amount": 1e400}'), quote_tool_output),
    ),
    _sdk(
        "sdk-service-tool-raises",
        SDK_SERVICE,
        "answer",
        "the tool said",
        script=(call("broken", {"item": "x"}), quote_tool_output),
    ),
    _sdk(
        "sdk-session-durable-tool-raises",
        SDK_SESSION,
        "either",
        "can only concatenate",
        script=(call("broken_durable", {"item": "x"}), quote_tool_output),
    ),
    _sdk(
        "sdk-service-model-body-not-json",
        SDK_SERVICE,
        "answer",
        "after the glitch",
        script=(Fault.malformed(), Reply.say("after the glitch")),
        max_retries=3,
    ),
    _sdk(
        "sdk-session-never-stops-calling-tools",
        SDK_SESSION,
        "terminal",
        "max turns",
        script=(forever("lookup", {"item": "x"}),) * 11,
    ),
]

WEATHER_CASES = [
    Case("weather-not-json", "weather", "Agent/run", "terminal", "not valid JSON", body=b"What's the weather?"),
    Case("weather-empty-body", "weather", "Agent/run", "terminal", "empty request body", body=b"   "),
    Case(
        "weather-bad-arguments",
        "weather",
        "Agent/run",
        "answer",
        "the tool said",
        script=(call("get_weather", '{"city": '), quote_tool_output),
    ),
]

APPS: dict[str, tuple[str, dict[str, str]]] = {
    "loop": ("tests.apps.bad_inputs_loop:app", {}),
    "bank": ("examples.bank.agent:app", {}),
    "sdk": ("tests.apps.bad_inputs_sdk:app", {}),
    "weather": ("examples.weather.agent:app", {"WEATHER_API_DELAY": "0"}),
}
CASES = LOOP_CASES + BANK_CASES + SDK_CASES + WEATHER_CASES


def _params() -> Iterator[Any]:
    for case in CASES:
        yield pytest.param(case, id=case.id)


# -- environments: one engine per app, shared by its cases -------------------------------------------------


@dataclasses.dataclass
class Served:
    """A running environment and its routed model."""

    env: AgentTestEnv
    model: RoutedModel


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Served]]:
    """Starts each app's environment on first use; stops them all after the module."""
    running: dict[str, Served] = {}

    def get(app: str) -> Served:
        if app not in running:
            spec, env_vars = APPS[app]
            model = RoutedModel()
            base = tmp_path_factory.mktemp(f"bad-inputs-{app}")
            env = AgentTestEnv(spec, base, model=model, env=env_vars, pythonpath=[ROOT])
            running[app] = Served(env.start(), model)
        return running[app]

    yield get
    stop_all([item.env for item in running.values()])


def _status(env: AgentTestEnv, invocation_id: str) -> dict[str, Any] | None:
    rows = env.query(
        "SELECT status, retry_count, last_failure, completion_result, completion_failure "
        f"FROM sys_invocation WHERE id = '{invocation_id}'"
    )
    return rows[0] if rows else None


def _ended_or_looping(env: AgentTestEnv, invocation_id: str, max_retries: int) -> dict[str, Any] | None:
    row = _status(env, invocation_id)
    if row is None:
        return None
    if row["status"] == "completed" or int(row.get("retry_count") or 0) > max_retries:
        return row
    return None


def _kill(env: AgentTestEnv, invocation_id: str) -> None:
    """Stop an invocation that loops, so it does not burn the cores for the cases after it."""
    httpx.patch(f"{env.engine.admin_url}/invocations/{invocation_id}/kill", timeout=30)


def _path(case: Case) -> str:
    key = quote(case.key if case.key is not None else f"k-{case.id}", safe="")
    return case.path.replace("{key}", key)


def _message(case: Case, text: str) -> bytes:
    return json.dumps(f"[case:{case.id}] {text}").encode()


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input_ends_and_the_session_keeps_working(served: Callable[[str], Served], case: Case) -> None:
    app = served(case.app)
    env, model = app.env, app.model
    model.script(case.id, *case.script)
    path = _path(case)
    sent = env.call(f"{path}/send", raw=case.body if case.body is not None else _message(case, "please help"))
    if case.expect == "rejected":
        assert 400 <= sent.status_code < 500, sent.text
        assert case.says.lower() in sent.text.lower(), sent.text
    else:
        assert sent.status_code in (200, 202), sent.text
        _check_end(env, case, sent.json()["invocationId"])

    # The service keeps answering, and the next message to the same session key works.
    model.script(case.id, Reply.say("all good now"))
    follow_up = env.call(path, raw=_message(case, "and now?"), timeout=SAFETY_SECONDS)
    assert follow_up.status_code == 200, follow_up.text
    assert follow_up.json() == "all good now"


def _check_end(env: AgentTestEnv, case: Case, invocation_id: str) -> None:
    row = wait_until(
        lambda: _ended_or_looping(env, invocation_id, case.max_retries),
        timeout=SAFETY_SECONDS,
        interval=0.05,
        what=f"invocation {invocation_id} of {case.id} to end",
    )
    if row["status"] != "completed":
        _kill(env, invocation_id)
        pytest.fail(f"{case.id}: retried {row['retry_count']} times without end; last failure: {row['last_failure']}")
    result = env.attach(invocation_id, timeout=SAFETY_SECONDS)
    if case.expect == "either":
        text = result.text + str(row.get("completion_failure") or "")
        assert case.says.lower() in text.lower(), text
    elif case.expect == "answer":
        assert result.status_code == 200, f"{case.id}: expected an answer, got {result.status_code}: {result.text}"
        assert row["completion_result"] == "success"
        assert case.says.lower() in result.json().lower(), result.json()
    else:
        assert result.status_code >= 400, f"{case.id}: expected a terminal failure, got the answer {result.text}"
        assert row["completion_result"] == "failure"
        message = str(row["completion_failure"] or "") + result.text
        assert case.says.lower() in message.lower(), message


def test_the_catalogue_is_broad_and_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(LOOP_CASES) + len(BANK_CASES) >= 25 and len(SDK_CASES) + len(WEATHER_CASES) >= 15
