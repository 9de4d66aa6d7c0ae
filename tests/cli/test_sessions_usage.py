"""The usage record (``resilient_agents.usage``) and the tokens section of ``sessions show``, without an engine."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from resilient_agents.cli._sessions import sessions_show
from resilient_agents.cli._usage import format_cost, usage_lines
from resilient_agents.errors import ConfigurationError
from resilient_agents.usage import (
    MAX_TURNS_KEPT,
    PRICES_ENV,
    ModelPrice,
    SessionUsage,
    UsageTally,
    load_prices,
    price_for,
    usage_json,
)

MINI = {"gpt-4.1-mini": ModelPrice(input=0.4, output=1.6)}


def _tally(*calls: tuple[str | None, int | None, int | None]) -> UsageTally:
    tally = UsageTally()
    for model, input_tokens, output_tokens in calls:
        tally.add(model, input_tokens, output_tokens)
    return tally


def test_turns_are_numbered_and_totals_are_kept_per_model() -> None:
    usage = SessionUsage().add_turn(_tally(("a", 100, 10), ("a", 50, 5), ("b", 7, None)))
    usage = usage.add_turn(_tally(("b", 1, 1)))
    assert [(t.turn, t.model, t.requests, t.input_tokens, t.output_tokens) for t in usage.turns] == [
        (1, "a", 2, 150, 15),
        (1, "b", 1, 7, 0),  # A count the provider did not report is 0.
        (2, "b", 1, 1, 1),
    ]
    assert [(m.model, m.requests, m.input_tokens, m.output_tokens) for m in usage.by_model] == [
        ("a", 2, 150, 15),
        ("b", 2, 8, 1),
    ]
    assert (usage.total.requests, usage.total.input_tokens, usage.total.output_tokens) == (4, 158, 16)
    assert SessionUsage.model_validate_json(usage.model_dump_json()) == usage  # Round-trips through state.


def test_a_turn_without_model_calls_still_gets_its_number() -> None:
    usage = SessionUsage().add_turn(UsageTally())
    assert usage.last_turn == 1
    assert [(t.turn, t.requests) for t in usage.turns] == [(1, 0)]
    assert usage.by_model == []


def test_only_the_latest_turns_are_listed_but_the_total_covers_all() -> None:
    usage = SessionUsage()
    for _ in range(MAX_TURNS_KEPT + 5):
        usage = usage.add_turn(_tally(("m", 10, 1)))
    assert [t.turn for t in usage.turns] == list(range(6, MAX_TURNS_KEPT + 6))
    assert usage.total.input_tokens == 10 * (MAX_TURNS_KEPT + 5)
    lines = usage_lines(usage_json(usage))
    assert "  (turns 1-5 are not listed; the total covers them)" in lines


def test_prices_match_exact_names_then_dated_versions() -> None:
    prices = {"gpt-4.1": ModelPrice(input=2, output=8), **MINI}
    assert price_for("gpt-4.1-mini", prices) == MINI["gpt-4.1-mini"]
    assert price_for("gpt-4.1-mini-2025-04-14", prices) == MINI["gpt-4.1-mini"]  # The longest base wins.
    assert price_for("gpt-4.1-2025-04-14", prices) == prices["gpt-4.1"]
    assert price_for("gpt-4.1o", prices) is None
    assert price_for(None, prices) is None


def test_price_table_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    assert load_prices() == {}
    monkeypatch.setenv(PRICES_ENV, '{"gpt-4.1-mini": {"input": 0.4, "output": 1.6}}')
    assert load_prices() == MINI
    for bad in ("[1]", '{"m": {"input": -1, "output": 1}}', '{"m": {"input": 1}}', "not json"):
        with pytest.raises(ConfigurationError, match=PRICES_ENV):
            load_prices(bad)


def test_cost_only_where_a_price_is_known() -> None:
    usage = SessionUsage().add_turn(_tally(("gpt-4.1-mini", 1_000_000, 100_000), ("other", 10, 1)))
    answer = usage_json(usage, MINI)
    assert [entry.get("cost_usd") for entry in answer["turns"]] == [0.56, None]
    assert "cost_usd" not in answer["total"]  # Not every model with tokens has a price.
    assert usage_json(usage)["total"] == {"requests": 2, "input_tokens": 1_000_010, "output_tokens": 100_001}
    priced = usage_json(SessionUsage().add_turn(_tally(("gpt-4.1-mini", 1000, 100))), MINI)
    assert priced["total"]["cost_usd"] == 0.00056


def test_tokens_section_without_prices_has_no_cost_column(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    usage = SessionUsage().add_turn(_tally(("gpt-4.1-mini", 1200, 20))).add_turn(_tally(("gpt-4.1-mini", 30, 3)))
    assert usage_lines(usage_json(usage)) == [
        "tokens:",
        "  TURN   MODEL         REQUESTS  INPUT  OUTPUT",
        "  1      gpt-4.1-mini         1  1,200      20",
        "  2      gpt-4.1-mini         1     30       3",
        "  total                       2  1,230      23",
    ]
    assert usage_lines(None) == []  # A service from before usage counting: nothing to show.
    assert usage_lines(usage_json(SessionUsage())) == ["tokens: no turn has run yet"]


def test_the_clis_price_table_prices_what_the_service_did_not(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = usage_json(SessionUsage().add_turn(_tally(("gpt-4.1-mini", 1000, 100), ("local", 5, 5))))
    monkeypatch.setenv(PRICES_ENV, '{"gpt-4.1-mini": {"input": 0.4, "output": 1.6}}')
    lines = usage_lines(json.loads(json.dumps(answer)))
    assert lines[1].split() == ["TURN", "MODEL", "REQUESTS", "INPUT", "OUTPUT", "COST"]
    assert lines[2].split() == ["1", "gpt-4.1-mini", "1", "1,000", "100", "$0.000560"]
    assert lines[3].split() == ["1", "local", "1", "5", "5", "-"]
    assert lines[4].split() == ["total", "2", "1,005", "105", "-"]
    assert lines[5] == "  (no price for local: the total cost is not known)"


def test_a_bad_price_table_warns_and_still_shows_tokens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PRICES_ENV, "{oops")
    lines = usage_lines(usage_json(SessionUsage().add_turn(_tally(("m", 1, 1)))))
    assert lines[-1].split() == ["total", "1", "1", "1"]
    assert PRICES_ENV in capsys.readouterr().err


def test_cost_format() -> None:
    assert format_cost(0.00056) == "$0.000560"
    assert format_cost(12.345) == "$12.35"


def test_sessions_show_prints_the_tokens_after_the_conversation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    usage = usage_json(
        SessionUsage().add_turn(_tally(("scripted", 40, 4))), {"scripted": ModelPrice(input=1, output=1)}
    )
    body: dict[str, Any] = {
        "session": "ann",
        "current_agent": "Triage",
        "turns": 1,
        "turn_running": False,
        "items": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "pending_items": [],
        "usage": usage,
    }

    def fake_post(url: str, **_: Any) -> httpx.Response:
        assert url == "http://ingress/Support/ann/history"
        return httpx.Response(200, json=body)

    monkeypatch.setattr(httpx, "post", fake_post)
    assert sessions_show("http://ingress", "Support", "ann", as_json=False) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["session 'ann' (Support) · current agent: Triage · 1 turn", "user: hi", "assistant: hello"]
    assert out[3] == "tokens:"
    assert out[5].split() == ["1", "scripted", "1", "40", "4", "$0.000044"]  # The service's price.
    assert out[6].split() == ["total", "1", "40", "4", "$0.000044"]


def test_usage_module_exports_exactly_its_public_members() -> None:
    import types

    import resilient_agents.usage as module

    public = {
        name
        for name in dir(module)
        if not name.startswith("_")
        and not isinstance(getattr(module, name), types.ModuleType)
        and str(getattr(getattr(module, name), "__module__", module.__name__)) == module.__name__
    }
    constants = {name for name in dir(module) if name.isupper() and not name.startswith("_")}
    assert set(module.__all__) == (public | constants) - {"annotations"}
