"""The local trace viewer without the engine: OTLP decoding (the real SDK exporter's protobuf, and JSON), the
store, the pages and the JSON API."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from resilient_agents.traceview import OtlpDecodeError, TraceSpan, TraceStore, TraceViewer, decode_export
from resilient_agents.traceview._html import trace_page


@pytest.fixture
def viewer() -> Iterator[TraceViewer]:
    with TraceViewer(port=0) as running:
        yield running


def _export_with_sdk(viewer: TraceViewer, compression: Compression = Compression.NoCompression) -> tuple[str, str]:
    """Send a turn -> model call / tool tree through the real OTLP/HTTP exporter; returns (trace id, turn id)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "weather"}))
    exporter = OTLPSpanExporter(endpoint=viewer.otlp_endpoint + "/v1/traces", compression=compression)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("resilient_agents")
    with tracer.start_as_current_span("invoke_agent WeatherAgent") as turn:
        with tracer.start_as_current_span(
            "chat offline-demo",
            attributes={
                "gen_ai.request.model": "offline-demo",
                "gen_ai.usage.input_tokens": 30,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.response.finish_reasons": ["tool_calls"],
                "cost": 0.25,
                "streamed": False,
            },
        ):
            pass
        with tracer.start_as_current_span("execute_tool get_weather", attributes={"gen_ai.tool.name": "get_weather"}):
            pass
        with tracer.start_as_current_span("execute_tool broken") as failing:
            failing.set_status(Status(StatusCode.ERROR, "tool failed"))
            failing.add_event("exception", {"exception.type": "ValueError"})
    provider.shutdown()
    context = turn.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdk_exporters_protobuf_is_decoded_into_one_tree(viewer: TraceViewer, compression: Compression) -> None:
    trace_id, turn_id = _export_with_sdk(viewer, compression)

    spans = {span.name: span for span in viewer.store.spans(trace_id)}
    assert set(spans) == {
        "invoke_agent WeatherAgent",
        "chat offline-demo",
        "execute_tool get_weather",
        "execute_tool broken",
    }
    turn, model = spans["invoke_agent WeatherAgent"], spans["chat offline-demo"]
    assert turn.span_id == turn_id and turn.parent_span_id == ""
    assert {span.parent_span_id for name, span in spans.items() if name != turn.name} == {turn_id}
    assert model.service == "weather" and model.scope == "resilient_agents" and model.kind == "internal"
    assert model.attributes["gen_ai.usage.input_tokens"] == 30
    assert model.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert model.attributes["cost"] == 0.25 and model.attributes["streamed"] is False
    assert model.start_unix_nano >= turn.start_unix_nano and model.end_unix_nano <= turn.end_unix_nano
    broken = spans["execute_tool broken"]
    assert (broken.status, broken.status_message) == ("error", "tool failed")
    assert [(e.name, e.attributes) for e in broken.events] == [("exception", {"exception.type": "ValueError"})]

    [summary] = viewer.store.summaries()
    assert (summary.root_name, summary.has_root, summary.span_count, summary.errors) == (
        "invoke_agent WeatherAgent",
        True,
        4,
        1,
    )


def _json_export(trace_id: str, spans: list[dict[str, object]], service: str = "Restate") -> bytes:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    for span in spans:
        span.setdefault("traceId", trace_id)
    document = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "x"}, "spans": spans}]}]}
    return json.dumps(document).encode()


def test_otlp_json_as_the_engine_sends_it(viewer: TraceViewer) -> None:
    trace_id = "44c735bc2e381678d0063b3e00376042"
    body = _json_export(
        trace_id,
        [
            {"spanId": "86f5251ee6ba5db2", "name": "ingress Agent/run", "kind": 2, "startTimeUnixNano": "100",
             "endTimeUnixNano": "200"},
            {"spanId": "1960a5f65d927219", "parentSpanId": "86f5251ee6ba5db2", "name": "invocation-attempt Agent/run",
             "kind": "SPAN_KIND_INTERNAL", "startTimeUnixNano": 150, "endTimeUnixNano": "190",
             "attributes": [{"key": "restate.invocation.target", "value": {"stringValue": "Agent/run"}},
                            {"key": "restate.deployment.service_protocol_version", "value": {"intValue": "6"}},
                            {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}}],
             "status": {"code": "STATUS_CODE_OK"}},
        ],
    )  # fmt: skip
    response = httpx.post(
        viewer.otlp_endpoint + "/v1/traces", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200 and response.json() == {}

    ingress, attempt = viewer.store.spans(trace_id)
    assert (ingress.kind, ingress.service, attempt.parent_span_id) == ("server", "Restate", ingress.span_id)
    assert attempt.attributes == {
        "restate.invocation.target": "Agent/run",
        "restate.deployment.service_protocol_version": 6,
        "tags": ["a"],
    }
    assert attempt.status == "ok" and attempt.duration_ns == 40


def test_spans_sent_twice_are_kept_once_and_a_missing_parent_is_shown() -> None:
    store = TraceStore(max_traces=2)
    child = TraceSpan("aa" * 16, "01" * 8, "02" * 8, "tool", "internal", 10, 20, service="svc")
    store.add([child, child])
    [summary] = store.summaries()
    assert (summary.span_count, summary.has_root, summary.root_name) == (1, False, "tool")
    old = trace_page("aa" * 16, store.spans("aa" * 16))
    assert "parent not received yet" in old and 'http-equiv="refresh"' not in old  # Long quiet: no reloading.

    store.add(
        [
            TraceSpan("bb" * 16, "03" * 8, "", "b", "internal", 30, 40),
            TraceSpan("cc" * 16, "04" * 8, "", "c", "internal", 50, 60),
        ]
    )
    assert [s.trace_id for s in store.summaries()] == ["cc" * 16, "bb" * 16]  # The oldest trace was dropped.


def test_pages_and_json_api(viewer: TraceViewer) -> None:
    empty = httpx.get(viewer.url)
    assert empty.status_code == 200 and "No traces yet" in empty.text and viewer.otlp_endpoint in empty.text
    trace_id, turn_id = _export_with_sdk(viewer)

    listing = httpx.get(viewer.url).text
    assert f"/trace/{trace_id}" in listing and "invoke_agent WeatherAgent" in listing
    page = httpx.get(viewer.trace_url(trace_id)).text
    assert page.index("invoke_agent WeatherAgent") < page.index("chat offline-demo")
    assert "30 in / 7 out tokens" in page and "tool failed" in page
    assert 'http-equiv="refresh"' in page  # Just sent: the page reloads while the engine's spans may still come.
    assert httpx.get(viewer.trace_url("0" * 32)).status_code == 404

    [summary] = httpx.get(viewer.url + "api/traces").json()
    assert summary["trace_id"] == trace_id and summary["span_count"] == 4
    spans = httpx.get(viewer.url + f"api/traces/{trace_id}").json()
    assert [s["span_id"] for s in spans if not s["parent_span_id"]] == [turn_id]


def test_bad_bodies_are_refused_with_400(viewer: TraceViewer) -> None:
    bad = httpx.post(
        viewer.otlp_endpoint + "/v1/traces", content=b"\x0a\xff", headers={"content-type": "application/x-protobuf"}
    )
    assert bad.status_code == 400 and "cannot be decoded" in bad.text
    with pytest.raises(OtlpDecodeError, match="not JSON"):
        decode_export(b"{", "application/json")
    with pytest.raises(OtlpDecodeError, match="decompress"):
        decode_export(b"not gzip", "application/x-protobuf", "gzip")
    assert decode_export(gzip.compress(b""), "application/x-protobuf", "gzip") == []
    assert httpx.post(viewer.otlp_endpoint + "/v1/metrics", content=b"").status_code == 404


def test_a_taken_port_says_what_to_do(viewer: TraceViewer) -> None:
    from resilient_agents.traceview import TraceViewerError

    with pytest.raises(TraceViewerError, match="--trace-port"):
        TraceViewer(port=viewer.port).start()
