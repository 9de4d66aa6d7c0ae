"""``resilient_agents.openai_agents.sdk`` mirrors the Agents SDK's public names (issue 8, build item 3)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import agents
import pytest

from resilient_agents.openai_agents import sdk
from resilient_agents.openai_agents._tools import is_durable_tool

PROGRAMS_DIR = Path(__file__).parent / "programs"
OURS = {"Runner", "function_tool"}


def _parameters(function: object, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[inspect._ParameterKind, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return {n: (p.kind, p.default) for n, p in signature.parameters.items() if n not in ("cls", "self", *skip)}


def test_every_sdk_name_is_exported_and_all_but_two_are_the_sdks_own() -> None:
    assert sorted(sdk.__all__) == sorted(set(agents.__all__))
    for name in sdk.__all__:
        if name not in OURS:
            assert getattr(sdk, name) is getattr(agents, name), name
    assert sdk.Runner is not agents.Runner and issubclass(sdk.Runner, agents.Runner)
    assert sdk.function_tool is not agents.function_tool


@pytest.mark.parametrize("method", ["run", "run_sync", "run_streamed"])
def test_runner_methods_take_what_the_sdks_take(method: str) -> None:
    assert _parameters(getattr(sdk.Runner, method)) == _parameters(getattr(agents.Runner, method))


def test_function_tool_takes_the_sdks_arguments_plus_durable() -> None:
    ours = _parameters(sdk.function_tool)
    assert ours.pop("durable") == (inspect.Parameter.KEYWORD_ONLY, True)
    # Fails when the SDK adds, renames or re-defaults an argument that we do not follow.
    assert ours == _parameters(agents.function_tool)


def _weather(city: str) -> str:
    """Get the weather for a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}"


def test_function_tool_journals_by_default_and_not_with_durable_false() -> None:
    journaled = sdk.function_tool(_weather, name_override="weather")
    plain = sdk.function_tool(durable=False, name_override="weather")(_weather)
    sdk_tool = agents.function_tool(_weather, name_override="weather")
    assert is_durable_tool(journaled)
    assert not is_durable_tool(plain)
    for tool in (journaled, plain):  # The model sees the same tool either way.
        assert tool.params_json_schema == sdk_tool.params_json_schema
        assert tool.description == sdk_tool.description
        assert tool.strict_json_schema == sdk_tool.strict_json_schema


def test_function_tool_passes_the_sdks_options_through() -> None:
    tool = sdk.function_tool(_weather, name_override="weather_d", timeout=3.0, needs_approval=True, is_enabled=False)
    assert is_durable_tool(tool)
    assert (tool.name, tool.timeout_seconds, tool.needs_approval, tool.is_enabled) == ("weather_d", 3.0, True, False)


def _import_statement(text: str, module: str) -> re.Match[str] | None:
    return re.search(rf"^from {re.escape(module)} import (\([^)]*\)|[^\n]*)\n", text, re.MULTILINE)


def _names(statement: re.Match[str]) -> set[str]:
    return {name.strip() for name in statement[1].strip("()").split(",") if name.strip()}


@pytest.mark.parametrize("program", sorted(p.name for p in (PROGRAMS_DIR / "plain").glob("*.py")))
def test_the_two_copies_differ_only_by_the_import_line(program: str) -> None:
    plain = (PROGRAMS_DIR / "plain" / program).read_text()
    durable = (PROGRAMS_DIR / "durable" / program).read_text()
    before = _import_statement(plain, "agents")
    after = _import_statement(durable, "resilient_agents.openai_agents.sdk")
    assert before is not None and after is not None
    assert _names(before) == _names(after)
    rest = [line for line in plain.replace(before[0], "").splitlines() if line]
    rest_durable = [line for line in durable.replace(after[0], "").splitlines() if line]
    assert sorted(rest) == sorted(rest_durable)  # isort may place the import elsewhere; nothing else differs.
