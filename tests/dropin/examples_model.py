"""A scripted model for the programs in ``programs/``: it answers by what a request says, never by arrival order.

Gathered runs, guardrails and nested agents send their requests in any order, so every answer is a function of
the request alone (its instructions, offered tools, last user text and trailing tool outputs). The same
request always gets the same answer, from the plain program and from its durable copy alike.
"""

from __future__ import annotations

import json
import re
import threading

from resilient_agents.models import ParsedRequest, Reply
from resilient_agents.models.reply import Fault, ToolCall
from resilient_agents.models.request import Responder


def answer(request: ParsedRequest) -> Reply:
    """The reply to ``request`` (see the module docs)."""
    instructions = request.instructions or ""
    user = request.last_user_text or ""
    # A handoff's output ({"assistant": "<agent>"}) is not a tool result the new agent should answer from.
    outputs = [o.text for o in request.trailing_tool_outputs() if not o.text.startswith('{"assistant"')]
    for marker, rule in _RULES:
        if marker in instructions:
            return rule(request, user, outputs)
    raise AssertionError(f"no rule for instructions {instructions[:80]!r}")


def _haiku(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    return Reply.say("Code calls itself here / each call a smaller mirror / base case ends the dream")


def _weather(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    if outputs:
        return Reply.say(f"Here is the forecast: {outputs[-1]}")
    return Reply.call("get_weather", city=user.rstrip("?").split()[-1])


def _triage_language(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    language = "spanish" if "Hola" in user or "¿" in user else "french" if "Bonjour" in user else "english"
    return Reply.call(f"transfer_to_{language}_agent")


def _speaks(reply: str) -> _Rule:
    def rule(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
        turn = sum(1 for _ in request.user_texts())
        return Reply.say(f"{reply} (turn {turn}: {user})")

    return rule


def _orchestrator(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    if outputs:
        return Reply.say("Translations: " + " | ".join(outputs))
    return Reply.calls(
        ToolCall("translate_to_spanish", {"input": "Good morning"}, call_id="call_es"),
        ToolCall("translate_to_french", {"input": "Good morning"}, call_id="call_fr"),
    )


def _translate(prefix: str) -> _Rule:
    def rule(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
        return Reply.say(f"[{prefix}] {user}")

    return rule


def _synthesizer(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    return Reply.say(f"Final: {len(request.messages)} messages read")


def _picker(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    options = [line for line in user.splitlines() if line.startswith("[es]")]
    return Reply.say(f"The best is: {sorted(options)[0] if options else 'none'}")


def _guardrail(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    homework = "solve" in user
    return Reply.say(json.dumps({"reasoning": f"homework={homework}", "is_math_homework": homework}))


def _support(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    return Reply.say(f"Support answer to: {user}")


def _concise(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    if outputs:
        return Reply.say(f"Your number: {outputs[-1]}")
    if "random number" in user:
        return Reply.call("random_number_tool", max=100)
    return Reply.say(f"Hi! ({user})")


def _helpful(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    if "español" in user:
        return Reply.call("transfer_to_spanish_assistant")
    return Reply.say("About 8 million people.")


def _spanish_assistant(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    return Reply.say(f"Tu nombre es Sora. ({len(request.messages)} mensajes)")


def _airline_triage(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    return Reply.call("transfer_to_seat_booking_agent" if "seat" in user else "transfer_to_faq_agent")


def _faq(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    if outputs:
        return Reply.say(outputs[-1])
    if "seat" in user:
        return Reply.call("transfer_to_triage_agent")
    return Reply.call("faq_lookup_tool", question=user)


def _seat_booking(request: ParsedRequest, user: str, outputs: list[str]) -> Reply:
    if outputs:
        return Reply.say(f"Done: {outputs[-1]}")
    found = re.search(r"number is (\w+) and I want seat (\w+)", user)
    if found:
        return Reply.call("update_seat", confirmation_number=found[1], new_seat=found[2])
    return Reply.say("What is your confirmation number, and which seat would you like?")


class _Rule:  # Only a name for the type of the rules below.
    def __call__(self, request: ParsedRequest, user: str, outputs: list[str]) -> Reply: ...


_RULES: list[tuple[str, _Rule]] = [  # type: ignore[list-item]  # Plain functions with _Rule's call signature.
    ("You only respond in haikus", _haiku),
    ("You answer weather questions", _weather),
    ("based on the language of the request", _triage_language),
    ("You only speak French", _speaks("Je vais bien")),
    ("You only speak Spanish and are extremely concise", _spanish_assistant),
    ("You only speak Spanish", _speaks("Estoy bien")),
    ("You only speak English", _speaks("I am fine")),
    ("You are a translation agent", _orchestrator),
    ("translate the user's message to Spanish", _translate("es")),
    ("translate the user's message to French", _translate("fr")),
    ("You inspect translations", _synthesizer),
    ("pick the best Spanish translation", _picker),
    ("do their math homework", _guardrail),
    ("You are a customer support agent", _support),
    ("Be extremely concise", _concise),
    ("Be a helpful assistant", _helpful),
    ("You are a helpful triaging agent", _airline_triage),
    ("You are an FAQ agent", _faq),
    ("You are a seat booking agent", _seat_booking),
]


class ExamplesModel(Responder):
    """Answers with :func:`answer`; can hold one chosen request (by arrival number) to crash the program there.

    ``hold_at=n`` makes the n-th request wait in the server until :meth:`release` (then it fails with HTTP 500,
    which the killed program never reads) so the test can kill the program while that model call is in flight.
    """

    def __init__(self, hold_at: int | None = None) -> None:
        self.hold_at = hold_at
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._count = 0

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        with self._lock:
            self._count += 1
            number = self._count
        if number == self.hold_at:
            self.held.set()
            self._release.wait(timeout=120)
            return Fault.server_error(500, message="held request released after the crash")
        return answer(request)

    def release(self) -> None:
        self._release.set()
