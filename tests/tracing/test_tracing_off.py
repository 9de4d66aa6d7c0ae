"""Without OpenTelemetry configured nothing is recorded, and importing the library costs no OpenTelemetry import."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from resilient_agents import _tracing


@pytest.fixture(autouse=True)
def _fresh_tracer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    _tracing.reset_for_tests()
    yield
    _tracing.reset_for_tests()


def test_unconfigured_records_nothing() -> None:
    assert not _tracing.enabled()
    assert _tracing.parent() is None
    with _tracing.turn(None, agent="A", path="loop") as span:
        assert span.span is None
        span.set("x", 1)  # Ignored.
    with _tracing.model_call(None, step="llm: A #1", agent="A", model="m", host="h:1") as span:
        assert span.span is None
    with _tracing.tool_call(None, step="tool: t", name="t", call_id="c", batch_size=1) as span:
        assert span.span is None
    _tracing.handoff(None, "A", "B")  # No span, no error.


def test_sdk_disabled_wins_over_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not _tracing.enabled()


def test_no_opentelemetry_import_when_unconfigured() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    code = (
        "import sys, resilient_agents.loop, resilient_agents.openai_agents, resilient_agents.approvals\n"
        "from resilient_agents import _tracing\n"
        "assert not _tracing.enabled()\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_content_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_tracing.CONTENT_ENV, raising=False)
    assert not _tracing.content_enabled()
    monkeypatch.setenv(_tracing.CONTENT_ENV, "1")
    assert _tracing.content_enabled()


def test_an_applications_own_tracer_provider_gets_the_spans() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "from resilient_agents import _tracing\n"
        "assert _tracing.enabled()\n"
        "with _tracing.model_call(None, step='llm: A #1', agent='A', model='m', host='h:1') as span:\n"
        "    span.usage(3, 4)\n"
        "[finished] = exporter.get_finished_spans()\n"
        "assert finished.name == 'chat m', finished.name\n"
        "assert finished.attributes['gen_ai.usage.output_tokens'] == 4\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
