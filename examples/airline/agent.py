"""An airline customer-service agent: triage, FAQ and seat booking, one durable conversation per customer.

Adapted from the OpenAI Agents SDK's customer-service example. Each conversation is a Restate Virtual
Object ``Airline`` keyed by session (e.g. the customer id); the agent that spoke last answers the next
message; the customer's booking (the run context) lives in the object's state.

Run it (offline demo model unless ``OPENAI_API_KEY`` is set)::

    resilient-agents up --app airline
    resilient-agents chat --app airline --session alice "can you send me an invoice for booking AB4568?"
    resilient-agents chat --app airline --session bob "can you change my seat to 10b?"
    resilient-agents chat --app airline --session bob "5666"
    resilient-agents sessions show airline bob

A seat in a premium row (1-3) or an exit row (14, 15) needs a person's approval:
``resilient-agents approvals list`` / ``approve ID`` / ``reject ID``.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta

from agents import Agent, RunConfig, RunContextWrapper, function_tool, handoff
from pydantic import BaseModel

from resilient_agents.approvals import await_approval
from resilient_agents.config import ModelConfig
from resilient_agents.openai_agents import durable_app, durable_context, durable_tool, session_object

from .mail import send_email

PREMIUM_ROWS = frozenset({1, 2, 3})
EXIT_ROWS = frozenset({14, 15})


class AirlineAgentContext(BaseModel):
    """What the agents know about the customer of one session (the run context, kept per session)."""

    customer_id: str = ""
    passenger_name: str | None = None
    confirmation_number: str | None = None
    seat_number: str | None = None
    flight_number: str | None = None
    email: str | None = None


def new_context(session: str) -> AirlineAgentContext:
    """The context of a new session: the session key is the customer id."""
    return AirlineAgentContext(customer_id=session, email=f"{session}@example.com", flight_number="FLT-123")


_FAQ = {
    ("bag", "baggage", "luggage", "suitcase"): (
        "You are allowed to bring one bag on the plane. It must be under 50 pounds and 22 x 14 x 9 inches."
    ),
    ("seat", "seats", "plane", "rows"): (
        "There are 120 seats on the plane: 22 business class seats and 98 economy seats. Exit rows are rows 14 "
        "and 15. Rows 1-3 are premium economy."
    ),
    ("wifi", "internet", "wi-fi"): "We have free wifi on the plane, join Airline-Wifi.",
}


@function_tool
def faq_lookup_tool(question: str) -> str:
    """Look up frequently asked questions about baggage, seats and wifi.

    Args:
        question: The customer's question.
    """
    words = {w.strip("?.,!").lower() for w in question.split()}
    for keys, answer in _FAQ.items():
        if words & set(keys):
            return answer
    return "I'm sorry, I don't know the answer to that question."


def _row(seat: str) -> int | None:
    digits = "".join(ch for ch in seat if ch.isdigit())
    return int(digits) if digits else None


def _approval_timeout() -> timedelta:
    return timedelta(seconds=float(os.environ.get("AIRLINE_APPROVAL_TIMEOUT_SECONDS", "3600")))


@durable_tool(durable_actions=True)  # It may wait for a person's approval: a durable action inside the tool.
async def update_seat(wrapper: RunContextWrapper[AirlineAgentContext], confirmation_number: str, new_seat: str) -> str:
    """Update the seat for a given confirmation number.

    Args:
        confirmation_number: The confirmation number for the flight.
        new_seat: The new seat to update to, e.g. 10B.
    """
    seat = new_seat.strip().upper()
    row = _row(seat)
    if row is None:
        return f"{new_seat!r} is not a seat; seats look like 10B."
    if row in PREMIUM_ROWS or row in EXIT_ROWS:
        kind = "a premium row" if row in PREMIUM_ROWS else "an exit row"
        decision = await await_approval(
            durable_context(),
            title=f"Seat change to {seat} ({kind}) for booking {confirmation_number}",
            details={"customer": wrapper.context.customer_id, "booking": confirmation_number, "seat": seat},
            timeout=_approval_timeout(),
            requested_by=f"airline session {wrapper.context.customer_id}",
        )
        if not decision.approved:
            why = "nobody decided in time" if decision.timed_out else (decision.note or "it was declined")
            return f"The seat change to {seat} was not approved ({why}); your seat is unchanged."
    wrapper.context.confirmation_number = confirmation_number
    wrapper.context.seat_number = seat
    return f"Updated seat to {seat} for confirmation number {confirmation_number}."


@durable_tool
async def send_invoice(wrapper: RunContextWrapper[AirlineAgentContext], confirmation_number: str) -> str:
    """Send the invoice of a booking to the customer's email address.

    Args:
        confirmation_number: The booking's confirmation number, e.g. AB4568.
    """
    to = wrapper.context.email or "customer@example.com"
    # The tool's body is one journaled step: once the email has been sent and the step recorded, neither a
    # crash nor a retry of the turn sends it again.
    message_id = send_email(to=to, subject=f"Invoice for booking {confirmation_number}")
    wrapper.context.confirmation_number = confirmation_number
    return f"Sent the invoice for booking {confirmation_number} to {to} (message {message_id})."


faq_agent: Agent[AirlineAgentContext] = Agent(
    name="FAQ Agent",
    handoff_description="A helpful agent that can answer questions about the airline: baggage, seats, wifi.",
    instructions=(
        "You are an FAQ agent. Identify the customer's last question and answer it with the faq lookup tool; "
        "do not rely on your own knowledge. If you cannot answer, transfer back to the triage agent."
    ),
    tools=[faq_lookup_tool],
)

seat_booking_agent: Agent[AirlineAgentContext] = Agent(
    name="Seat Booking Agent",
    handoff_description="A helpful agent that can update a seat on a flight.",
    instructions=(
        "You are a seat booking agent. Ask for the customer's confirmation number and desired seat if you do "
        "not have them, then use the update seat tool. If the customer asks something unrelated, transfer back "
        "to the triage agent."
    ),
    tools=[update_seat],
)

triage_agent: Agent[AirlineAgentContext] = Agent(
    name="Triage Agent",
    handoff_description="A triage agent that can delegate a customer's request to the appropriate agent.",
    instructions=(
        "You are a helpful airline customer-service triage agent. Send invoices yourself with the send invoice "
        "tool. Delegate seat changes to the seat booking agent and questions to the FAQ agent."
    ),
    tools=[send_invoice],
    handoffs=[faq_agent, handoff(seat_booking_agent)],
)
faq_agent.handoffs.append(triage_agent)
seat_booking_agent.handoffs.append(triage_agent)


@functools.cache
def run_config() -> RunConfig:
    """The run configuration of every turn (built once): the model backend from the environment."""
    return ModelConfig.from_env().run_config()


airline = session_object(triage_agent, name="Airline", run_config=run_config, context=new_context)
app = durable_app([airline])
