"""Fixtures of the bank example's tests: the bank app served on the real engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.bank.account import STATE_KEY as ACCOUNT_STATE_KEY
from examples.bank.data import AccountData

from resilient_agents.testing import AgentTestEnv
from resilient_agents.testing.pytest_plugin import stop_all

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bank_env(tmp_path: Path) -> Iterator[Callable[..., AgentTestEnv]]:
    """Factory for environments serving the bank app plus a test back office (scripted model unless ``model=``)."""
    envs: list[AgentTestEnv] = []

    def make(*, env: dict[str, str] | None = None, **kwargs: Any) -> AgentTestEnv:
        # LOOP_ALWAYS_REPLAY=1 runs them with an always-replay engine (hunts non-determinism), as in tests/loop.
        kwargs.setdefault("always_replay", os.environ.get("LOOP_ALWAYS_REPLAY") == "1")
        made = AgentTestEnv(
            "tests.bank.staff_app:app", tmp_path / f"env{len(envs)}", env=env, pythonpath=[ROOT], **kwargs
        )
        envs.append(made)
        return made.start()

    yield make
    stop_all(envs)


def account(env: AgentTestEnv, customer: str) -> AccountData:
    """The customer's account data, read from the engine's state (the Account object is private to the ingress)."""
    rows = env.query(
        f"SELECT value_utf8 FROM state WHERE service_name = 'Account' AND service_key = '{customer}' "
        f"AND key = '{ACCOUNT_STATE_KEY}'"
    )
    assert len(rows) == 1, rows
    return AccountData.model_validate_json(rows[0]["value_utf8"])


def history(env: AgentTestEnv, customer: str) -> dict[str, Any]:
    """The customer's session snapshot."""
    response = httpx.post(f"{env.engine.ingress_url}/BankSession/{customer}/history", timeout=30)
    assert response.status_code == 200, response.text
    snapshot: dict[str, Any] = response.json()
    return snapshot
