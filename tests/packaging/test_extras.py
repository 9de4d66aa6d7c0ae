"""The install hint of a missing optional dependency (resilient_agents._extras)."""

from __future__ import annotations

import subprocess
import sys

from resilient_agents import _extras


def test_the_error_names_the_module_what_is_missing_and_the_pip_command() -> None:
    error = _extras.missing_extra_error(
        "resilient_agents.openai_agents", extra="openai-agents", needs="the OpenAI Agents SDK"
    )
    assert isinstance(error, ImportError)
    assert error.name == "resilient_agents.openai_agents"
    assert str(error) == (
        "resilient_agents.openai_agents needs the OpenAI Agents SDK: pip install 'resilient-agents[openai-agents]'"
    )


def test_missing_returns_the_first_module_that_is_not_installed() -> None:
    assert _extras.missing("json", "restate") is None
    assert _extras.missing("json", "no_such_module_xyz", "also_missing_xyz") == "no_such_module_xyz"


def test_importing_the_integration_without_the_agents_sdk_names_the_extra() -> None:
    """The guard at the top of resilient_agents.openai_agents (and so of its .sdk drop-in), in a fresh interpreter."""
    for module in ("resilient_agents.openai_agents", "resilient_agents.openai_agents.sdk"):
        code = f"import sys\nsys.modules['agents'] = None  # As if not installed.\nimport {module}\n"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1] == (
            "ImportError: resilient_agents.openai_agents needs the OpenAI Agents SDK: "
            "pip install 'resilient-agents[openai-agents]'"
        ), result.stderr
