"""Fixtures for the tracing tests: an OTLP receiver that both the engine and the service export to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resilient_agents.testing import AgentTestEnv, wait_until

from .receiver import ReceivedSpan, TraceReceiver

ROOT = Path(__file__).resolve().parents[2]
SERVICE_NAME = "traced-agents"
SECRET_KEY = "test-key-not-secret"
"""The API key AgentTestEnv gives the service: it must appear in no span."""


@pytest.fixture
def receiver() -> Iterator[TraceReceiver]:
    """An in-process OTLP/HTTP receiver on loopback."""
    with TraceReceiver() as rx:
        yield rx


@pytest.fixture
def traced_env(agent_env: Callable[..., AgentTestEnv], receiver: TraceReceiver) -> Callable[..., AgentTestEnv]:
    """Factory: ``traced_env(app, env={...})``: an environment whose engine and service export to ``receiver``."""

    def make(app: str, *, env: dict[str, str] | None = None, **kwargs: Any) -> AgentTestEnv:
        service_env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": SERVICE_NAME,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            **(env or {}),
        }
        host_port = receiver.url.removeprefix("http://")
        return agent_env(
            app,
            env=service_env,
            pythonpath=[ROOT],
            tracing_endpoint=f"http+json+otlp://{host_port}",
            **kwargs,
        )

    return make


def ours(receiver: TraceReceiver) -> list[ReceivedSpan]:
    """The spans our service exported."""
    return receiver.find(lambda s: s.service == SERVICE_NAME)


def spans_named(receiver: TraceReceiver, prefix: str) -> list[ReceivedSpan]:
    """Our spans whose name starts with ``prefix``."""
    return [s for s in ours(receiver) if s.name.startswith(prefix)]


def wait_for_spans(
    receiver: TraceReceiver, predicate: Callable[[list[ReceivedSpan]], bool], what: str, timeout: float = 60.0
) -> list[ReceivedSpan]:
    """Poll the receiver until ``predicate(all spans)`` holds (the engine exports in batches, ~every 10 s)."""
    return wait_until(
        lambda: (lambda spans: spans if predicate(spans) else None)(receiver.snapshot()),
        timeout=timeout,
        interval=0.1,
        what=what,
    )


def attempt_span_of(spans: list[ReceivedSpan], span_id: str) -> ReceivedSpan | None:
    """The engine's span with id ``span_id``."""
    return next((s for s in spans if s.span_id == span_id and s.service != SERVICE_NAME), None)


def assert_no_content(spans: list[ReceivedSpan], texts: list[str]) -> None:
    """No span attribute holds any of ``texts`` (prompts, outputs) nor the API key."""
    for span in spans:
        for name, value in span.attributes.items():
            rendered = str(value)
            assert SECRET_KEY not in rendered, f"the API key leaked into {span.name}: {name}"
            for text in texts:
                assert text not in rendered, f"{text!r} leaked into {span.name}: {name}={rendered[:200]}"
