"""Shared test setup: the loopback-only network namespace, and no real model calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest_plugins = ["resilient_agents.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def _no_real_model_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make any in-process request to a hosted model fail: tests talk to our local model server only."""
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "RESILIENT_AGENTS_OFFLINE_MODEL_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    yield
