"""Unit tests of the native loop's pure parts: tool schemas, argument checks, resolution, types, exports."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import resilient_agents.loop as loop
from resilient_agents.loop import (
    ChatMessage,
    LoopAgent,
    LoopSettings,
    LoopToolContext,
    ModelTurn,
    SessionSnapshot,
    ToolCallRequest,
    agent_tool,
    delayed_send_tool,
    loop_agent_service,
    loop_session_object,
    loop_tool,
    object_tool,
    service_tool,
    workflow_tool,
)
from resilient_agents.loop._agent import handoff_tool_name
from resilient_agents.loop._phases._model_step import tool_definitions
from resilient_agents.loop._phases._outcome import FinalAnswer, HandOff, RunTools, TurnState
from resilient_agents.loop._phases._resolve import resolve
from resilient_agents.loop._tools import Ready
from resilient_agents.loop._tools._base import ArgumentError, parse_arguments, validate_arguments

FIXTURES = Path(__file__).parent / "fixtures"


@loop_tool
async def transfer(amount: float, to: str, memo: str = "", *, context: LoopToolContext) -> str:
    """Move money to another of the customer's own accounts.

    Longer explanation that is not part of the description.

    Args:
        amount: How much to move.
        to (str): The target account's name.
        memo: A note that is longer
            than one line.
        context: Filled by the loop.

    Returns:
        A receipt.
    """
    return f"{context.session_key}:{amount}:{to}:{memo}"


def test_loop_tool_derives_the_schema_from_signature_and_docstring() -> None:
    definition = transfer.definition()
    assert definition.name == "transfer"
    assert definition.description == "Move money to another of the customer's own accounts."
    schema = definition.parameters
    assert set(schema["properties"]) == {"amount", "to", "memo"}  # The LoopToolContext parameter is hidden.
    assert schema["required"] == ["amount", "to"]
    assert schema["properties"]["amount"]["type"] == "number"
    assert schema["properties"]["to"]["description"] == "The target account's name."
    assert schema["properties"]["memo"]["description"] == "A note that is longer than one line."
    assert schema["additionalProperties"] is False
    assert transfer.context_param == "context"


def test_loop_tool_options_and_sync_functions() -> None:
    @loop_tool(name="add_numbers", description="Adds.")
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert add.name == "add_numbers"
    assert add.description == "Adds."
    assert add.definition().parameters["required"] == ["a"]


def test_loop_tool_refuses_star_args() -> None:
    def varargs(*items: str) -> str:
        return ""

    with pytest.raises(TypeError, match=r"\*args"):
        loop_tool(varargs)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ('{"amount": 1, "to": "savings", "customer_id": "bob"}', "takes no argument 'customer_id'"),
        ('{"amount": "lots", "to": "savings"}', "invalid arguments"),
    ],
)
def test_bad_arguments_are_rejected_before_any_action(arguments: str, message: str) -> None:
    call = ToolCallRequest(call_id="c1", name="transfer", arguments=arguments)
    with pytest.raises(ArgumentError, match=message):
        validate_arguments(transfer.args_model, "transfer", parse_arguments(call))


def test_object_tool_schema_has_no_key_and_rejects_one() -> None:
    tool = object_tool("get_balance", "Account", "balance", description="Balance.")
    assert tool.definition().parameters["properties"] == {}
    call = ToolCallRequest(call_id="c1", name="get_balance", arguments='{"customer_id": "bob"}')
    started = tool.start(None, call, LoopToolContext("alice", "bank", "c1"), LoopSettings())  # type: ignore[arg-type]
    assert isinstance(started, Ready)  # Rejected without touching the context (None here).
    assert "customer_id" in started.text and started.text.startswith("error: rejected")


class _Payment(BaseModel):
    amount: float
    customer_id: str


def test_session_key_field_must_not_be_in_the_model() -> None:
    with pytest.raises(ValueError, match="customer_id"):
        service_tool(
            "pay", "Payments", "pay", description="Pay.", input_model=_Payment, session_key_field="customer_id"
        )


def test_agent_and_delayed_send_tool_schemas() -> None:
    assert agent_tool("ask", "Expert", description="Ask.").definition().parameters["required"] == ["input"]

    class Note(BaseModel):
        text: str

    remind = delayed_send_tool("remind_me", "Account", "remind", description="Remind.", input_model=Note)
    schema = remind.definition().parameters
    assert set(schema["properties"]) == {"text", "delay_seconds"}
    assert schema["properties"]["delay_seconds"]["minimum"] == 0


def test_delayed_send_rejects_too_long_delays() -> None:
    remind = delayed_send_tool("remind_me", "Account", "remind", description="Remind.")
    call = ToolCallRequest(call_id="c1", name="remind_me", arguments='{"delay_seconds": 1e9}')
    started = remind.start(None, call, LoopToolContext("alice", "a", "c1"), LoopSettings())  # type: ignore[arg-type]
    assert isinstance(started, Ready) and "at most" in started.text


BANK = LoopAgent("bank", "Bank.", tools=[transfer], handoffs=["loans agent"])
LOANS = LoopAgent("loans agent", "Loans.", handoff_description="Knows loans.")


def _turn(*names: str) -> ModelTurn:
    return ModelTurn(tool_calls=tuple(ToolCallRequest(call_id=f"c{i}", name=n) for i, n in enumerate(names)))


def test_resolve_sorts_answers_into_outcomes() -> None:
    assert resolve(BANK, ModelTurn(text="Done.")) == FinalAnswer("Done.")
    assert resolve(BANK, _turn("transfer", "transfer")) == RunTools(_turn("transfer", "transfer").tool_calls)
    handoff = resolve(BANK, _turn("transfer", "transfer_to_loans_agent", "transfer_to_loans_agent"))
    assert isinstance(handoff, HandOff)
    assert handoff.target == "loans agent"
    assert [c.call_id for c in handoff.other_calls] == ["c0"]
    assert [c.call_id for c in handoff.ignored_handoffs] == ["c2"]


def test_handoff_tools_are_offered() -> None:
    assert handoff_tool_name("loans agent") == "transfer_to_loans_agent"
    state = TurnState(
        agents={"bank": BANK, "loans agent": LOANS}, agent=BANK, history=[], client=None, settings=LoopSettings()
    )  # type: ignore[arg-type]
    names = [(d.name, d.description) for d in tool_definitions(state)]
    assert names[0][0] == "transfer"
    assert names[1] == (
        "transfer_to_loans_agent",
        "Hand the conversation over to the agent 'loans agent'. Knows loans.",
    )


def test_agent_validation() -> None:
    with pytest.raises(ValueError, match="several tools"):
        LoopAgent("a", "x", tools=[transfer, transfer])
    clash = loop_tool(name="transfer_to_b")(lambda: "")
    with pytest.raises(ValueError, match="clash"):
        LoopAgent("a", "x", tools=[clash], handoffs=["b"])
    with pytest.raises(ValueError, match="unknown agents"):
        loop_session_object("S", [BANK], "bank", lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="start_agent"):
        loop_agent_service("S", [LOANS], "bank", lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="max_turns"):
        LoopSettings(max_turns=0)


@pytest.mark.parametrize(("name", "model"), [("model_turn_v1.json", ModelTurn), ("session_v1.json", SessionSnapshot)])
def test_stored_versions_still_load(name: str, model: type[BaseModel]) -> None:
    # One fixture per schema version: journals and session state written by older releases must stay readable.
    raw: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    loaded = model.model_validate(raw)
    assert loaded.model_dump(mode="json") == raw


def test_chat_message_round_trip() -> None:
    message = ChatMessage(role="tool", text="x", call_id="c1", tool_name="t", agent="a")
    assert ChatMessage.model_validate_json(message.model_dump_json()) == message


def test_all_lists_public_members() -> None:
    module = importlib.import_module("resilient_agents.loop")
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    public = {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), type(importlib))
    } - {"annotations"}
    assert public == exported
    assert loop.__all__ == sorted(loop.__all__, key=lambda n: (not n.isupper(), n))


def test_loop_does_not_import_the_agents_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, resilient_agents.loop; print('agents' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


class _RecordingContext:
    """Stands in for the Restate context: records the durable calls and sends a tool starts."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def generic_call(self, service: str, handler: str, arg: bytes, key: str | None = None) -> str:
        self.calls.append({"service": service, "handler": handler, "arg": arg, "key": key})
        return "future"

    def generic_send(self, service: str, handler: str, arg: bytes, key: str | None = None, **kw: Any) -> None:
        self.calls.append({"service": service, "handler": handler, "arg": arg, "key": key, **kw})


class _Amount(BaseModel):
    amount: float


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            object_tool("get_balance", "Account", "balance", description="."),
            "{}",
            {"service": "Account", "handler": "balance", "arg": b"", "key": "alice"},
        ),
        (
            service_tool("pay", "Payments", "pay", description=".", input_model=_Amount, session_key_field="customer"),
            '{"amount": 5}',
            {"service": "Payments", "handler": "pay", "arg": b'{"amount": 5.0, "customer": "alice"}', "key": None},
        ),
        (
            workflow_tool(
                "loan", "Loan", description=".", input_model=_Amount, key=lambda tc, _: f"{tc.session_key}-1"
            ),
            '{"amount": 5}',
            {"service": "Loan", "handler": "run", "arg": b'{"amount": 5.0}', "key": "alice-1"},
        ),
        (
            agent_tool("ask", "Expert", description="."),
            '{"input": "why?"}',
            {"service": "Expert", "handler": "run", "arg": b'"why?"', "key": None},
        ),
    ],
    ids=["object", "service-with-session-field", "workflow", "agent"],
)
def test_durable_calls_take_their_identity_from_the_session(
    tool: Any, arguments: str, expected: dict[str, Any]
) -> None:
    ctx = _RecordingContext()
    call = ToolCallRequest(call_id="c1", name=tool.name, arguments=arguments)
    started = tool.start(ctx, call, LoopToolContext("alice", "bank", "c1"), LoopSettings())
    assert started.future == "future"
    assert ctx.calls == [expected]


def test_delayed_send_goes_to_the_sessions_object() -> None:
    ctx = _RecordingContext()
    remind = delayed_send_tool("remind_me", "Account", "remind", description=".", input_model=_Amount)
    call = ToolCallRequest(call_id="c1", name="remind_me", arguments='{"amount": 1, "delay_seconds": 2.5}')
    started = remind.start(ctx, call, LoopToolContext("alice", "bank", "c1"), LoopSettings())  # type: ignore[arg-type]
    assert isinstance(started, Ready) and "2.5 seconds" in started.text
    assert ctx.calls == [
        {
            "service": "Account",
            "handler": "remind",
            "arg": b'{"amount": 1.0}',
            "key": "alice",
            "send_delay": timedelta(seconds=2.5),
        }
    ]


def test_session_bound_tools_refuse_to_run_without_a_session() -> None:
    ctx = _RecordingContext()
    tool = object_tool("get_balance", "Account", "balance", description=".")
    started = tool.start(
        ctx, ToolCallRequest(call_id="c1", name="get_balance"), LoopToolContext("", "a", "c1"), LoopSettings()
    )  # type: ignore[arg-type]
    assert isinstance(started, Ready) and "needs a session" in started.text
    assert ctx.calls == []
