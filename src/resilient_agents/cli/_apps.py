"""The example apps the CLI knows by name, and how to address an app's agent. Private module."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from resilient_agents.errors import ConfigurationError


@dataclasses.dataclass(frozen=True)
class AppInfo:
    """How to serve an app and talk to its agent."""

    name: str
    """Short name used with ``--app``."""
    spec: str
    """The Restate app object as ``module:attribute``."""
    service: str
    """The service (or Virtual Object) that takes user messages."""
    handler: str
    """The handler that takes one user message."""
    keyed: bool
    """Whether the service is a Virtual Object keyed by session."""
    example: str
    """A message to try."""
    demo_templates: dict[str, str] = dataclasses.field(default_factory=dict)
    """Answer templates for the offline demo model, per tool name (fields of the tool's JSON output)."""
    demo_rules: str | None = None
    """``module:attribute`` of a sequence of extra demo-model rules for this app (imported by ``up``)."""
    demo_templates_from: str | None = None
    """``module:attribute`` of more answer templates for the demo model (imported by ``up``)."""
    examples: tuple[str, ...] = ()
    """More messages to try, shown by ``up``."""


EXAMPLES: dict[str, AppInfo] = {
    "weather": AppInfo(
        name="weather",
        spec="examples.weather.agent:app",
        service="Agent",
        handler="run",
        keyed=False,
        example="What is the weather in Detroit?",
        demo_templates={"get_weather": "The weather in {city} is currently {temperature_c}°C and {conditions}."},
    ),
    "airline": AppInfo(
        name="airline",
        spec="examples.airline.agent:app",
        service="Airline",
        handler="message",
        keyed=True,
        example="can you send me an invoice for booking AB4568?",
        examples=("can you change my seat to 10b?", "5666", "how much baggage can I bring?"),
    ),
    "bank": AppInfo(
        name="bank",
        spec="examples.bank.agent:app",
        service="BankSession",
        handler="message",
        keyed=True,
        example="how much is my balance?",
        examples=(
            "how much did I spend on gambling last month?",
            "give me an overview of my outstanding loans and credit",
        ),
        demo_rules="examples.bank.demo:DEMO_RULES",
        demo_templates_from="examples.bank.demo:DEMO_TEMPLATES",
    ),
}


def load_demo_rules(app: AppInfo) -> list[Any]:
    """Import the app's extra demo-model rules (``AppInfo.demo_rules``), or return none.

    Raises:
        ConfigurationError: When the rules cannot be imported.
    """
    return list(_load(app, app.demo_rules) or [])


def load_demo_templates(app: AppInfo) -> dict[str, str]:
    """The app's demo-model answer templates: ``demo_templates`` plus those at ``demo_templates_from``.

    Raises:
        ConfigurationError: When the templates cannot be imported.
    """
    return {**app.demo_templates, **dict(_load(app, app.demo_templates_from) or {})}


def _load(app: AppInfo, spec: str | None) -> Any:
    if spec is None:
        return None
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        message = f"cannot load {spec!r} for the demo model of app {app.name!r}: {error}"
        raise ConfigurationError(message) from error


def find_project_root(start: Path | None = None) -> Path:
    """Return the nearest directory (from ``start`` or the cwd upwards) holding ``examples/``, else the cwd."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "examples" / "weather").is_dir() or (directory / ".restate").is_dir():
            return directory
    return here


def resolve_app(name_or_spec: str) -> AppInfo:
    """Return the app for an example name (``weather``) or a ``module:attribute`` spec.

    A spec's agent is assumed to be a Service ``Agent`` with handler ``run`` (as built by ``agent_service``).

    Raises:
        ConfigurationError: For an unknown name.
    """
    if name_or_spec in EXAMPLES:
        return EXAMPLES[name_or_spec]
    if ":" in name_or_spec:
        return AppInfo(name_or_spec, name_or_spec, "Agent", "run", False, "Hello")
    known = ", ".join(sorted(EXAMPLES))
    raise ConfigurationError(f"unknown app {name_or_spec!r}: use one of {known}, or a 'module:attribute' spec")
