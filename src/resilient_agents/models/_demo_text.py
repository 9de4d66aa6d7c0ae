"""Word handling for the demo model: tokenising, tool scoring, questions and readable tool outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from resilient_agents.models.request import ToolSpec

STOPWORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below between both but by
    can could did do does doing down during each few for from further get got had has have having he her here
    hers him his how i if in into is it its itself just let like me more most my myself need no nor not now of
    off on once only or other our ours out over own please same she should so some such than thank thanks that
    the their theirs them then there these they this those through to too under until up very want was we were
    what when where which while who whom why will with would you your yours yourself tell show give current
    """.split()
)
"""Words that say nothing about which tool fits."""

SYNONYMS: Mapping[str, str] = {
    "change": "update",
    "modify": "update",
    "edit": "update",
    "switch": "update",
    "move": "update",
    "find": "search",
    "lookup": "search",
    "look": "search",
    "fetch": "retrieve",
    "remove": "delete",
    "cancel": "delete",
    "create": "add",
    "forecast": "weather",
    "temperature": "weather",
}
"""A few generic verbs mapped to a shared word, applied to both the user's and the tools' words."""

_NAME_WEIGHT = 3
_DESCRIPTION_WEIGHT = 1
_PARAMETER_WEIGHT = 1
_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def normalize(word: str) -> str:
    """Lower-case a word, strip a plural ending and map it through :data:`SYNONYMS`.

    Args:
        word: One word.

    Returns:
        The normalised word.
    """
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return SYNONYMS.get(word, word)


def content_words(text: str) -> set[str]:
    """The normalised words of ``text`` that are not stopwords.

    Args:
        text: Any text, including identifiers like ``get_weather`` or ``getWeather``.

    Returns:
        The set of meaningful words.
    """
    spaced = _CAMEL.sub(r"\1 \2", text).replace("_", " ")
    return {normalize(word) for word in _WORD.findall(spaced) if word.lower() not in STOPWORDS}


def label(name: str) -> str:
    """Turn an identifier into words: ``confirmation_number`` -> ``confirmation number``.

    Args:
        name: A property or tool name.

    Returns:
        The lower-case words separated by spaces.
    """
    spaced = _CAMEL.sub(r"\1 \2", name).replace("_", " ").replace("-", " ")
    return " ".join(spaced.lower().split())


def _tool_terms(tool: ToolSpec) -> dict[str, int]:
    terms: dict[str, int] = {}
    sources = [
        (content_words(" ".join(tool.properties)), _PARAMETER_WEIGHT),
        (content_words(tool.description), _DESCRIPTION_WEIGHT),
        (content_words(tool.name), _NAME_WEIGHT),
    ]
    for words, weight in sources:
        terms.update({word: max(weight, terms.get(word, 0)) for word in words})
    return terms


def score_tool(text: str, tool: ToolSpec) -> int:
    """Score how well a user's text matches a tool by weighted word overlap.

    Args:
        text: The user's message.
        tool: The candidate tool.

    Returns:
        The score; 0 means no overlap.
    """
    terms = _tool_terms(tool)
    return sum(terms.get(word, 0) for word in content_words(text))


def best_tool(text: str, tools: Sequence[ToolSpec]) -> ToolSpec | None:
    """Pick the tool whose name/description/parameters overlap most with the text (ties: first listed).

    Args:
        text: The user's message.
        tools: The tools offered.

    Returns:
        The best tool, or ``None`` when no tool shares a meaningful word with the text.
    """
    best: ToolSpec | None = None
    best_score = 0
    for tool in tools:
        score = score_tool(text, tool)
        if score > best_score:
            best, best_score = tool, score
    return best


def question(tool: ToolSpec, prop: str) -> str:
    """The plain question the demo model asks when it cannot find a required argument.

    Args:
        tool: The tool it wants to call.
        prop: The missing property's name.

    Returns:
        E.g. ``"To use update_seat I need the confirmation number. Which confirmation number?"``.
    """
    words = label(prop)
    return f"To use {tool.name} I need the {words}. Which {words}?"


def render_value(value: Any) -> str:
    """Render a JSON value as readable text.

    Args:
        value: A decoded JSON value.

    Returns:
        The text: objects as ``key: value`` pairs, lists comma-separated, booleans as yes/no.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, dict):
        return ", ".join(f"{label(str(key))}: {render_value(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(f"({render_value(item)})" if isinstance(item, dict) else render_value(item) for item in value)
    return str(value)


def describe_output(tool_name: str | None, output: str, templates: Mapping[str, str]) -> str:
    """Turn one tool output into a sentence.

    A template registered for the tool wins (it receives the JSON object's fields plus ``tool`` and
    ``output``); otherwise JSON outputs are rendered field by field and plain-text outputs are used as-is.

    Args:
        tool_name: The tool that produced the output, when known.
        output: The output text.
        templates: Per-tool format strings.

    Returns:
        The sentence.
    """
    name = tool_name or "the tool"
    data = _decode_json(output)
    template = templates.get(tool_name) if tool_name else None
    if template is not None:
        rendered = _apply_template(template, name, output, data)
        if rendered is not None:
            return rendered
    text = output.strip()
    if not text:
        return f"{name} finished without output."
    if data is None or (isinstance(data, str) and data == text):
        return text
    if isinstance(data, dict | list) and not data:
        return f"{name} returned nothing."
    return f"Result of {name}: {render_value(data)}."


def _decode_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _apply_template(template: str, tool_name: str, output: str, data: Any) -> str | None:
    fields: dict[str, Any] = {"tool": tool_name, "output": output}
    if isinstance(data, dict):
        fields.update({str(key): value for key, value in data.items()})
    try:
        return template.format_map(fields)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return None
