"""A native-loop test app: sessions with a handoff, tools of every kind, and a gated tool for crash tests.

* ``Session`` (Virtual Object keyed by customer id) starts at the ``concierge`` agent, which has the function
  tools ``slow_lookup`` (200 ms), ``gated_lookup`` (waits for ``$GATE_DIR/release``) and ``rendezvous`` (waits
  until ``parties`` calls of its group run at the same moment, :mod:`tests.apps.rendezvous`), the remote agent
  ``ask_expert`` (service ``ExpertAgent``), the reminder ``remind_me`` (a delayed send to ``Account.remind``)
  and a handoff to ``bank``.
* ``bank`` has ``get_balance``, a tool on the ``Account`` Virtual Object keyed by the session's key.
* ``BankSession`` starts at ``bank`` directly.

The model client speaks the wire API named by ``$LOOP_API`` (responses, chat or anthropic) to the scripted
model server whose URL ``AgentTestEnv`` puts in ``$OPENAI_BASE_URL``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import restate
from pydantic import BaseModel

from resilient_agents.loop import (
    AnthropicClient,
    LoopAgent,
    LoopModelSettings,
    LoopSettings,
    LoopToolContext,
    ModelClient,
    OpenAIChatClient,
    OpenAIResponsesClient,
    agent_tool,
    delayed_send_tool,
    loop_agent_service,
    loop_session_object,
    loop_tool,
    object_tool,
)
from tests.apps.rendezvous import meet

BALANCES = {"alice": 1200, "bob": 99999}
MODEL = LoopModelSettings(model="scripted")


def make_client() -> ModelClient:
    """The model client for ``$LOOP_API``, pointed at the scripted model server."""
    api = os.environ.get("LOOP_API", "responses")
    base_url = os.environ["OPENAI_BASE_URL"]
    key = os.environ["OPENAI_API_KEY"]
    if api == "chat":
        return OpenAIChatClient(base_url=base_url, api_key=key, timeout=30)
    if api == "anthropic":
        return AnthropicClient(key, base_url=base_url.removesuffix("/v1"), timeout=30)
    return OpenAIResponsesClient(base_url=base_url, api_key=key, timeout=30)


def _gate() -> Path:
    return Path(os.environ["GATE_DIR"])


@loop_tool
async def slow_lookup(item: str) -> str:
    """Look something up; takes 200 ms.

    Args:
        item: What to look up.
    """
    await asyncio.sleep(0.2)
    return f"{item}: found"


@loop_tool
async def gated_lookup(item: str) -> str:
    """Look something up slowly (waits until the test releases it).

    Args:
        item: What to look up.
    """
    gate = _gate()
    (gate / f"started-{os.getpid()}-{time.monotonic_ns()}").touch()
    while not (gate / "release").exists():  # noqa: ASYNC110 - the signal comes from another process.
        await asyncio.sleep(0.01)
    (gate / f"finished-{os.getpid()}-{time.monotonic_ns()}").touch()
    return f"{item}: 42 widgets"


@loop_tool
async def rendezvous(group: str, parties: int) -> str:
    """Wait until ``parties`` calls of ``group`` are running at the same moment.

    Args:
        group: The meeting.
        parties: How many calls meet.
    """
    met = await meet(group, parties)
    return f"{met} of {parties} running together"


@loop_tool
def whoami(context: LoopToolContext) -> dict[str, str]:
    """Who the customer of this session is (from the session, not from the model)."""
    return {"customer": context.session_key, "agent": context.agent}


class Reminder(BaseModel):
    """What to remind the customer of."""

    text: str


account = restate.VirtualObject("Account")


@account.handler()
async def balance(ctx: restate.ObjectContext) -> dict[str, object]:
    """The balance of the customer this object is keyed by."""
    return {"customer": ctx.key(), "balance": BALANCES.get(ctx.key(), 0)}


@account.handler()
async def remind(ctx: restate.ObjectContext, reminder: Reminder) -> None:
    """Store a fired reminder."""
    fired = await ctx.get("reminders", type_hint=list[str]) or []
    ctx.set("reminders", [*fired, reminder.text])


@account.handler(kind="shared")
async def reminders(ctx: restate.ObjectSharedContext) -> list[str]:
    """The reminders fired so far."""
    return await ctx.get("reminders", type_hint=list[str]) or []


concierge = LoopAgent(
    name="concierge",
    instructions="Help the customer; hand banking questions to the bank agent.",
    tools=[
        slow_lookup,
        gated_lookup,
        rendezvous,
        whoami,
        agent_tool("ask_expert", "ExpertAgent", description="Ask the expert agent a question."),
        delayed_send_tool(
            "remind_me", "Account", "remind", description="Remind the customer later.", input_model=Reminder
        ),
    ],
    handoffs=["bank"],
    model=MODEL,
)
bank = LoopAgent(
    name="bank",
    instructions="Answer questions about the customer's own account.",
    tools=[object_tool("get_balance", "Account", "balance", description="The customer's balance.")],
    handoffs=["concierge"],
    model=MODEL,
    handoff_description="Answers questions about balances.",
)
expert = LoopAgent(name="expert", instructions="You are an expert. Answer briefly.", model=MODEL)

app = restate.app(
    services=[
        account,
        loop_session_object("Session", [concierge, bank], "concierge", make_client),
        loop_session_object("BankSession", [concierge, bank], "bank", make_client),
        loop_session_object(
            "GuardedSession",
            [concierge, bank],
            "concierge",
            make_client,
            settings=LoopSettings(max_turns=2, on_max_turns="final_message"),
        ),
        loop_agent_service("ExpertAgent", [expert], "expert", make_client),
    ]
)
