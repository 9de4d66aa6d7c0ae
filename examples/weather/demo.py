"""Answer templates for the offline demo model, so the weather agent reads naturally without an LLM.

``resilient-agents up weather`` loads them (``demo-templates`` in pyproject.toml's
``[tool.resilient-agents.apps.weather]``): the demo model phrases the ``get_weather`` tool's JSON output with
the template, filling in its fields.
"""

from __future__ import annotations

DEMO_TEMPLATES: dict[str, str] = {
    "get_weather": "The weather in {city} is currently {temperature_c}°C and {conditions}.",
}
"""Per tool name: the answer, with ``{field}`` placeholders for the tool output's fields."""
