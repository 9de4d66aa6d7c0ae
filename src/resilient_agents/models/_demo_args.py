"""Fill a tool's required arguments from the user's messages, using the JSON schema's names and types.

Each property gets a *kind* from its type and name (a seat, an identifier, a place...). Specific kinds are
filled first and the token they use is claimed, so e.g. ``10b`` becomes the seat and is not also taken as a
confirmation number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from resilient_agents.models._demo_text import STOPWORDS, label
from resilient_agents.models.request import ToolSpec

Kind = Literal[
    "enum", "boolean", "seat", "email", "date", "identifier", "number", "place", "person", "free_text", "text"
]
_KIND_ORDER: tuple[Kind, ...] = (
    "enum",
    "boolean",
    "seat",
    "email",
    "date",
    "identifier",
    "number",
    "place",
    "person",
    "free_text",
    "text",
)
_WHOLE_ANSWER_KINDS = frozenset({"seat", "email", "date", "identifier", "place", "person", "free_text", "text"})
_MAX_ANSWER_WORDS = 12

_IDENTIFIER_WORDS = frozenset({"id", "number", "code", "ref", "reference", "confirmation", "pnr", "sku", "zip"})
_PLACE_WORDS = frozenset(
    {"city", "location", "place", "town", "destination", "origin", "country", "address", "region", "where"}
)
_PERSON_WORDS = frozenset({"name", "person", "passenger", "customer", "recipient", "traveler", "traveller"})
_FREE_TEXT_WORDS = frozenset(
    {"query", "q", "text", "question", "prompt", "message", "input", "topic", "search", "term", "terms", "keywords"}
)
_DATE_WORDS = frozenset({"date", "day", "when"})

_CAPITALISED = r"([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)"
_PLACE = re.compile(r"\b(?i:in|for|at|near|to|from|around)\s+" + _CAPITALISED)
_PLACE_LOWERCASE = re.compile(r"\b(?i:in|for|at|near)\s+([a-z][\w'-]*)\W*$")
_PERSON = re.compile(r"\b(?i:name is|i am|i'm|this is|called|named)\s+" + _CAPITALISED)
_SEAT = re.compile(r"\b\d{1,3}[A-Za-z]\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DATE = re.compile(r"\b(?:\d{4}-\d{2}-\d{2}|(?i:today|tomorrow|tonight|yesterday))\b")
_TOKEN = re.compile(r"\b[A-Za-z0-9][A-Za-z0-9-]*\b")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")
_YES = frozenset({"yes", "yeah", "yep", "true", "sure", "ok", "okay"})
_NO = frozenset({"no", "nope", "false"})

Found = tuple[Any, str]
"""An extracted value and the token it came from (claimed so no other property reuses it)."""

Extractor = Callable[[str, dict[str, Any], set[str]], Found | None]


@dataclass(frozen=True)
class ArgumentPlan:
    """The arguments found for a tool call.

    Attributes:
        arguments: The arguments, in the schema's ``required`` order.
        missing: The first required property that could not be filled, or ``None`` when all were.
    """

    arguments: dict[str, Any]
    missing: str | None


def schema_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property schema allows, looking into ``anyOf`` / ``oneOf``.

    Args:
        schema: A property's JSON schema.

    Returns:
        The type names, e.g. ``{"integer", "null"}``.
    """
    declared = schema.get("type")
    types = {declared} if isinstance(declared, str) else {str(t) for t in declared or ()}
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            if isinstance(sub, dict):
                types |= schema_types(sub)
    return types


def _enum_values(schema: dict[str, Any]) -> list[Any]:
    values = list(schema.get("enum") or ())
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            if isinstance(sub, dict):
                values.extend(_enum_values(sub))
    return values


def property_kind(name: str, schema: dict[str, Any]) -> Kind:
    """Classify a property by its schema type and name.

    Args:
        name: The property's name.
        schema: The property's JSON schema.

    Returns:
        The kind, which decides how a value is looked for.
    """
    types = schema_types(schema)
    words = set(label(name).split())
    if _enum_values(schema):
        return "enum"
    if types & {"integer", "number"} and "string" not in types:
        return "number"
    if "boolean" in types and "string" not in types:
        return "boolean"
    return _string_kind(words, schema.get("format"))


def _string_kind(words: set[str], fmt: Any) -> Kind:
    checks: list[tuple[bool, Kind]] = [
        ("seat" in words, "seat"),
        ("email" in words or fmt == "email", "email"),
        (bool(words & _DATE_WORDS) or fmt in ("date", "date-time"), "date"),
        (bool(words & _IDENTIFIER_WORDS), "identifier"),
        (bool(words & _PLACE_WORDS), "place"),
        (bool(words & _PERSON_WORDS), "person"),
        (bool(words & _FREE_TEXT_WORDS), "free_text"),
    ]
    return next((kind for matched, kind in checks if matched), "text")


def fill_arguments(tool: ToolSpec, texts: Sequence[str], answered: str | None = None) -> ArgumentPlan:
    """Fill the tool's required arguments from the user's messages.

    Args:
        tool: The tool to call.
        texts: The user's messages, newest first.
        answered: The property the newest message answers (the demo model asked for it), if any.

    Returns:
        The arguments found, and the first required property that is still missing.
    """
    properties = tool.properties
    required = list(tool.required)
    kinds = {name: property_kind(name, properties.get(name, {})) for name in required}
    claimed: set[str] = set()
    values: dict[str, Any] = {}
    for name in sorted(required, key=lambda n: (n != answered, _KIND_ORDER.index(kinds[n]))):
        found = _find(kinds[name], properties.get(name, {}), texts, claimed, is_answered=name == answered)
        if found is not None:
            values[name] = found[0]
            claimed.add(found[1].lower())
    missing: str | None = None
    for name in required:
        schema = properties.get(name, {})
        if name in values:
            continue
        if "default" in schema:
            values[name] = schema["default"]
        elif "null" in schema_types(schema):
            values[name] = None
        elif missing is None:
            missing = name
    return ArgumentPlan(arguments={name: values[name] for name in required if name in values}, missing=missing)


def _find(
    kind: Kind, schema: dict[str, Any], texts: Sequence[str], claimed: set[str], *, is_answered: bool
) -> Found | None:
    extractor = _EXTRACTORS[kind]
    if is_answered and texts:
        found = extractor(texts[0], schema, claimed) or _whole_answer(texts[0], kind)
        if found is not None:
            return found
    for text in texts:
        found = extractor(text, schema, claimed)
        if found is not None:
            return found
    return None


def _whole_answer(text: str, kind: Kind) -> Found | None:
    value = text.strip().rstrip(".!?").strip()
    if kind not in _WHOLE_ANSWER_KINDS or not value or len(value.split()) > _MAX_ANSWER_WORDS:
        return None
    return value, value


def _first_unclaimed(pattern: re.Pattern[str], text: str, claimed: set[str], group: int = 0) -> str | None:
    for match in pattern.finditer(text):
        token = match.group(group).strip().rstrip(".")
        if token and token.lower() not in claimed:
            return token
    return None


def _as_found(token: str | None) -> Found | None:
    return (token, token) if token is not None else None


def _extract_enum(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    for value in _enum_values(schema):
        token = str(value)
        if token.lower() not in claimed and re.search(rf"\b{re.escape(token)}\b", text, re.IGNORECASE):
            return value, token
    return None


def _extract_boolean(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _YES or word in _NO:
            return word in _YES, word
    return None


def _extract_number(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    integer_only = "integer" in schema_types(schema) and "number" not in schema_types(schema)
    for match in _NUMBER.finditer(text):
        token = match.group(0)
        number = float(token)
        if token.lower() in claimed or (integer_only and not number.is_integer()):
            continue
        return (int(number) if integer_only or number.is_integer() else number), token
    return None


def _extract_identifier(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if any(char.isdigit() for char in token) and token.lower() not in claimed:
            return token, token
    return None


def _extract_seat(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    return _as_found(_first_unclaimed(_SEAT, text, claimed))


def _extract_email(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    return _as_found(_first_unclaimed(_EMAIL, text, claimed))


def _extract_date(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    return _as_found(_first_unclaimed(_DATE, text, claimed))


def _extract_place(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    token = _first_unclaimed(_PLACE, text, claimed, group=1)
    if token is None:
        token = _first_unclaimed(_PLACE_LOWERCASE, text, claimed, group=1)
        token = None if token is None or token in STOPWORDS else token
    return _as_found(token)


def _extract_person(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    return _as_found(_first_unclaimed(_PERSON, text, claimed, group=1))


def _extract_free_text(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    value = text.strip()
    return (value, value) if value else None


def _extract_nothing(text: str, schema: dict[str, Any], claimed: set[str]) -> Found | None:
    return None


_EXTRACTORS: dict[Kind, Extractor] = {
    "enum": _extract_enum,
    "boolean": _extract_boolean,
    "seat": _extract_seat,
    "email": _extract_email,
    "date": _extract_date,
    "identifier": _extract_identifier,
    "number": _extract_number,
    "place": _extract_place,
    "person": _extract_person,
    "free_text": _extract_free_text,
    "text": _extract_nothing,
}
