"""The offline demo model: a small rule-based responder used when no model API key is configured.

It never pretends to be an AI: every response reports the model ``offline-demo`` and its texts are plain
templated sentences. It works over whatever tools a request lists:

1. If the conversation ends with tool outputs, it answers from them (per-tool templates, else a readable
   rendering of the output).
2. Otherwise it picks the tool whose words best match the latest user message, fills the required arguments
   from the user's messages and calls it, or asks for the first argument it cannot find.
3. If no tool matches, it says it is the offline demo model and lists what it can do.

Apps add behaviour with :data:`DemoRule` callables (tried first) and :attr:`DemoModel.answer_templates`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

from resilient_agents.models._demo_args import fill_arguments
from resilient_agents.models._demo_text import best_tool, describe_output, question
from resilient_agents.models.reply import Fault, Reply, ToolCall
from resilient_agents.models.request import ParsedRequest, Responder, ToolSpec

DEMO_MODEL_NAME = "offline-demo"
"""The model name in every response of :class:`DemoModel`."""

DEMO_PREFIX = "(offline demo model)"
"""How the demo model introduces itself when it has nothing better to say."""

DemoRule: TypeAlias = Callable[[ParsedRequest], Reply | None]
"""An app-specific rule: return a reply to take over the request, or ``None`` to let the next rule try."""


class DemoModel(Responder):
    """The rule-based offline demo model. Stateless, so safe to share between threads.

    Args:
        rules: App-specific rules, tried in order before the generic behaviour.
        answer_templates: Per-tool format strings used to answer from a tool's JSON output, e.g.
            ``{"get_weather": "It is {temperature} degrees in {city}."}``. Also settable later through
            :attr:`answer_templates`.
    """

    def __init__(self, rules: Sequence[DemoRule] = (), answer_templates: Mapping[str, str] | None = None) -> None:
        self.rules: list[DemoRule] = list(rules)
        self.answer_templates: dict[str, str] = dict(answer_templates or {})

    def respond(self, request: ParsedRequest) -> Reply | Fault:
        """Answer one request with the rules above; the reply's model is always :data:`DEMO_MODEL_NAME`.

        Args:
            request: The parsed request.

        Returns:
            A text reply or a single tool call.
        """
        reply = (
            self._apply_rules(request)
            or self._answer_from_tool_outputs(request)
            or self._call_tool(request)
            or self._introduce(request)
        )
        return dataclasses.replace(reply, model=DEMO_MODEL_NAME)

    def _apply_rules(self, request: ParsedRequest) -> Reply | None:
        for rule in self.rules:
            reply = rule(request)
            if reply is not None:
                return reply
        return None

    def _answer_from_tool_outputs(self, request: ParsedRequest) -> Reply | None:
        outputs = request.trailing_tool_outputs()
        if not outputs or _just_handed_off(request):
            return None  # After a handoff the new agent handles the user's message itself.
        sentences = [describe_output(output.tool_name, output.text, self.answer_templates) for output in outputs]
        return Reply.say(" ".join(sentences))

    def _call_tool(self, request: ParsedRequest) -> Reply | None:
        latest = request.last_user_text
        if latest is None or not request.tools:
            return None
        tools = request.tools
        if _just_handed_off(request):  # Do not bounce straight back to another agent.
            tools = [t for t in tools if not t.name.startswith(HANDOFF_PREFIX)] or tools
        tool = best_tool(latest, tools)
        pending = _pending_question(request)
        answered: str | None = None
        if pending is not None and (tool is None or tool.name == pending[0].name):
            tool, answered = pending
        if tool is None:
            return None
        plan = fill_arguments(tool, list(request.user_texts()), answered)
        if plan.missing is not None:
            return Reply.say(question(tool, plan.missing))
        return Reply(tool_calls=(ToolCall(name=tool.name, arguments=plan.arguments),))

    def _introduce(self, request: ParsedRequest) -> Reply:
        if not request.tools:
            return Reply.say(
                f"{DEMO_PREFIX} I am a rule-based stand-in, not a language model, and no tools are available here. "
                "Configure a model API key to get real answers."
            )
        names = ", ".join(tool.name for tool in request.tools)
        return Reply.say(
            f"{DEMO_PREFIX} I can help with: {names}. I am a rule-based stand-in, not a language model: "
            "ask for one of these in plain words, or configure a model API key to get real answers."
        )


HANDOFF_PREFIX = "transfer_to_"
"""Name prefix of the Agents SDK's handoff tools."""


def _just_handed_off(request: ParsedRequest) -> bool:
    """Whether the conversation ends with the output of a handoff tool (another agent just took over)."""
    outputs = request.trailing_tool_outputs()
    return bool(outputs) and all((o.tool_name or "").startswith(HANDOFF_PREFIX) for o in outputs)


def _pending_question(request: ParsedRequest) -> tuple[ToolSpec, str] | None:
    """Find the tool and property the demo model asked about in the message just before the user's latest."""
    messages = request.messages
    if len(messages) < 2 or messages[-1].role != "user":
        return None
    previous = messages[-2]
    if previous.role != "assistant" or previous.tool_calls:
        return None
    asked = previous.text.strip()
    for tool in request.tools:
        for prop in tool.required:
            if question(tool, prop) == asked:
                return tool, prop
    return None
