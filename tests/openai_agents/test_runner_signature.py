"""``DurableRunner.run`` accepts exactly what the pinned SDK's ``Runner.run`` accepts (plus ``settings``)."""

from __future__ import annotations

import inspect

from agents import Runner

from resilient_agents.openai_agents import DurableRunner
from resilient_agents.openai_agents._service import answer_value


def _parameters(function: object) -> dict[str, tuple[inspect._ParameterKind, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return {name: (p.kind, p.default) for name, p in signature.parameters.items() if name not in ("cls", "self")}


def test_durable_runner_run_mirrors_runner_run() -> None:
    ours = _parameters(DurableRunner.run)
    assert ours.pop("settings") == (inspect.Parameter.KEYWORD_ONLY, None)
    # Fails when the SDK adds, renames or re-defaults a parameter that we do not follow.
    assert ours == _parameters(Runner.run)


def test_structured_output_is_answered_as_json_not_as_a_json_string() -> None:
    from pydantic import BaseModel

    class Guess(BaseModel):
        number: int

    assert answer_value(Guess(number=74)) == {"number": 74}
    assert answer_value("plain text") == "plain text"
