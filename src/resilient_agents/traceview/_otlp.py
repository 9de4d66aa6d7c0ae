"""Decoding of OTLP trace exports (``ExportTraceServiceRequest``), JSON and protobuf, without dependencies.

The protobuf decoder reads only the fields of ``opentelemetry/proto/trace/v1/trace.proto`` that the viewer
shows; unknown fields are skipped, as protobuf requires. Private module.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from resilient_agents.errors import ResilientAgentsError

AttributeValue = str | bool | int | float | bytes | list[Any] | dict[str, Any] | None
"""An attribute's value as OTLP's ``AnyValue`` carries it (arrays and key-value lists nest)."""

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")


class OtlpDecodeError(ResilientAgentsError):
    """An OTLP export body that is not a valid ``ExportTraceServiceRequest``."""


@dataclass(frozen=True)
class SpanEvent:
    """A timestamped event of a span (e.g. an exception)."""

    name: str
    time_unix_nano: int
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceSpan:
    """One received span, flattened with its resource's service name and its instrumentation scope."""

    trace_id: str
    """32 lowercase hex digits."""
    span_id: str
    """16 lowercase hex digits."""
    parent_span_id: str
    """16 hex digits, or ``""`` for a root span."""
    name: str
    kind: str
    """One of :data:`SPAN_KINDS`."""
    start_unix_nano: int
    end_unix_nano: int
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    service: str = ""
    """The resource's ``service.name`` (e.g. ``restate-server`` or the app's service)."""
    scope: str = ""
    status: str = "unset"
    """One of :data:`STATUS_CODES`."""
    status_message: str = ""
    events: tuple[SpanEvent, ...] = ()

    @property
    def duration_ns(self) -> int:
        """End minus start, never negative."""
        return max(0, self.end_unix_nano - self.start_unix_nano)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (bytes values as base64)."""
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "name": self.name,
            "kind": self.kind,
            "start_unix_nano": self.start_unix_nano,
            "end_unix_nano": self.end_unix_nano,
            "attributes": {key: _jsonable(value) for key, value in self.attributes.items()},
            "service": self.service,
            "scope": self.scope,
            "status": self.status,
            "status_message": self.status_message,
            "events": [
                {
                    "name": event.name,
                    "time_unix_nano": event.time_unix_nano,
                    "attributes": {key: _jsonable(value) for key, value in event.attributes.items()},
                }
                for event in self.events
            ],
        }


def _jsonable(value: AttributeValue) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def decode_export(body: bytes, content_type: str, content_encoding: str = "") -> list[TraceSpan]:
    """Decode the body of an OTLP/HTTP ``POST /v1/traces``.

    Args:
        body: The request body.
        content_type: ``application/json`` for OTLP/JSON; anything else is read as protobuf.
        content_encoding: ``gzip``, ``deflate`` or empty.

    Returns:
        The spans, in the order they were sent.

    Raises:
        OtlpDecodeError: The body is not a valid export request.
    """
    try:
        if content_encoding.strip().lower() == "gzip":
            body = gzip.decompress(body)
        elif content_encoding.strip().lower() == "deflate":
            body = zlib.decompress(body)
    except (OSError, EOFError, zlib.error) as error:
        raise OtlpDecodeError(f"cannot decompress the {content_encoding} body: {error}") from error
    if "json" in content_type.lower():
        try:
            document = json.loads(body or b"{}")
        except ValueError as error:
            raise OtlpDecodeError(f"the OTLP/JSON body is not JSON: {error}") from error
        if not isinstance(document, dict):
            raise OtlpDecodeError("the OTLP/JSON body is not an object with resourceSpans")
        return list(_json_spans(document))
    try:
        return list(_proto_spans(body))
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as error:
        raise OtlpDecodeError(f"the OTLP protobuf body cannot be decoded: {error}") from error


# --- OTLP/JSON -------------------------------------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], camel: str) -> Any:
    """A field by its OTLP/JSON (lowerCamelCase) name, or its proto (snake_case) name, which some senders use."""
    if camel in obj:
        return obj[camel]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return obj.get(snake)


def _json_id(value: Any) -> str:
    """A trace or span id: hex in OTLP/JSON; base64 from senders that follow protobuf's JSON mapping."""
    text = str(value or "")
    if not text:
        return ""
    try:
        bytes.fromhex(text)
        return text.lower()
    except ValueError:
        try:
            return base64.b64decode(text, validate=True).hex()
        except (binascii.Error, ValueError):
            return text


def _json_value(value: Any) -> AttributeValue:
    if not isinstance(value, dict):
        return None
    for key in ("stringValue", "string_value"):
        if key in value:
            return str(value[key])
    for key in ("boolValue", "bool_value"):
        if key in value:
            return bool(value[key])
    for key in ("intValue", "int_value"):
        if key in value:
            return int(value[key])
    for key in ("doubleValue", "double_value"):
        if key in value:
            return float(value[key])
    array = _get(value, "arrayValue")
    if isinstance(array, dict):
        return [_json_value(item) for item in array.get("values") or []]
    kvlist = _get(value, "kvlistValue")
    if isinstance(kvlist, dict):
        return _json_attributes(kvlist.get("values"))
    raw = _get(value, "bytesValue")
    if raw is not None:
        try:
            return base64.b64decode(str(raw))
        except (binascii.Error, ValueError):
            return str(raw)
    return None


def _json_attributes(items: Any) -> dict[str, AttributeValue]:
    result: dict[str, AttributeValue] = {}
    for item in items or []:
        if isinstance(item, dict) and "key" in item:
            result[str(item["key"])] = _json_value(item.get("value"))
    return result


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    text = str(value or "").lower().removeprefix(prefix)
    return text if text in names else names[0]


def _json_spans(document: Mapping[str, Any]) -> Iterator[TraceSpan]:
    for resource_spans in _get(document, "resourceSpans") or []:
        resource = _get(resource_spans, "resource") or {}
        service = str(_json_attributes(resource.get("attributes")).get("service.name") or "")
        for scope_spans in (
            _get(resource_spans, "scopeSpans") or _get(resource_spans, "instrumentationLibrarySpans") or []
        ):
            scope = str((_get(scope_spans, "scope") or {}).get("name") or "")
            for span in scope_spans.get("spans") or []:
                status = span.get("status") or {}
                yield TraceSpan(
                    trace_id=_json_id(_get(span, "traceId")),
                    span_id=_json_id(_get(span, "spanId")),
                    parent_span_id=_json_id(_get(span, "parentSpanId")),
                    name=str(span.get("name") or ""),
                    kind=_enum(span.get("kind"), SPAN_KINDS, "span_kind_"),
                    start_unix_nano=int(_get(span, "startTimeUnixNano") or 0),
                    end_unix_nano=int(_get(span, "endTimeUnixNano") or 0),
                    attributes=_json_attributes(span.get("attributes")),
                    service=service,
                    scope=scope,
                    status=_enum(status.get("code"), STATUS_CODES, "status_code_"),
                    status_message=str(status.get("message") or ""),
                    events=tuple(
                        SpanEvent(
                            name=str(event.get("name") or ""),
                            time_unix_nano=int(_get(event, "timeUnixNano") or 0),
                            attributes=_json_attributes(event.get("attributes")),
                        )
                        for event in span.get("events") or []
                    ),
                )


# --- protobuf wire format --------------------------------------------------------------------------------------------

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message; LEN values as bytes, others as ints."""
    pos = 0
    end = len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(data, pos)
        elif wire == _FIXED64:
            if pos + 8 > end:
                raise ValueError("truncated fixed64")
            value = int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise ValueError("truncated length-delimited field")
            value = data[pos : pos + length]
            pos += length
        elif wire == _FIXED32:
            if pos + 4 > end:
                raise ValueError("truncated fixed32")
            value = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _proto_value(data: bytes) -> AttributeValue:
    """An ``AnyValue``."""
    value: AttributeValue = None
    for number, wire, raw in _fields(data):
        if number == 1 and isinstance(raw, bytes):
            value = raw.decode("utf-8", "replace")
        elif number == 2 and wire == _VARINT:
            value = bool(raw)
        elif number == 3 and isinstance(raw, int):
            value = raw - (1 << 64) if raw >= 1 << 63 else raw
        elif number == 4 and isinstance(raw, int):
            value = struct.unpack("<d", raw.to_bytes(8, "little"))[0]
        elif number == 5 and isinstance(raw, bytes):
            value = [_proto_value(item) for n, _, item in _fields(raw) if n == 1 and isinstance(item, bytes)]
        elif number == 6 and isinstance(raw, bytes):
            value = _proto_attributes(item for n, _, item in _fields(raw) if n == 1 and isinstance(item, bytes))
        elif number == 7 and isinstance(raw, bytes):
            value = raw
    return value


def _proto_attributes(key_values: Iterator[bytes]) -> dict[str, AttributeValue]:
    result: dict[str, AttributeValue] = {}
    for data in key_values:
        key = ""
        value: AttributeValue = None
        for number, _, raw in _fields(data):
            if number == 1 and isinstance(raw, bytes):
                key = raw.decode("utf-8", "replace")
            elif number == 2 and isinstance(raw, bytes):
                value = _proto_value(raw)
        result[key] = value
    return result


def _sub(data: bytes, wanted: int) -> Iterator[bytes]:
    """The length-delimited fields numbered ``wanted`` of a message."""
    for number, _, raw in _fields(data):
        if number == wanted and isinstance(raw, bytes):
            yield raw


def _proto_spans(body: bytes) -> Iterator[TraceSpan]:
    for resource_spans in _sub(body, 1):
        service = ""
        for resource in _sub(resource_spans, 1):
            service = str(_proto_attributes(_sub(resource, 1)).get("service.name") or "")
        for scope_spans in _sub(resource_spans, 2):
            scope = ""
            for scope_message in _sub(scope_spans, 1):
                for number, _, raw in _fields(scope_message):
                    if number == 1 and isinstance(raw, bytes):
                        scope = raw.decode("utf-8", "replace")
            for span in _sub(scope_spans, 2):
                yield _proto_span(span, service, scope)


def _proto_span(data: bytes, service: str, scope: str) -> TraceSpan:
    ids = {1: "", 2: "", 4: ""}
    name = ""
    kind = 0
    times = {7: 0, 8: 0}
    attributes: list[bytes] = []
    events: list[SpanEvent] = []
    status, status_message = 0, ""
    for number, _, raw in _fields(data):
        if number in ids and isinstance(raw, bytes):
            ids[number] = raw.hex()
        elif number == 5 and isinstance(raw, bytes):
            name = raw.decode("utf-8", "replace")
        elif number == 6 and isinstance(raw, int):
            kind = raw
        elif number in times and isinstance(raw, int):
            times[number] = raw
        elif number == 9 and isinstance(raw, bytes):
            attributes.append(raw)
        elif number == 11 and isinstance(raw, bytes):
            events.append(_proto_event(raw))
        elif number == 15 and isinstance(raw, bytes):
            for field_number, _, value in _fields(raw):
                if field_number == 2 and isinstance(value, bytes):
                    status_message = value.decode("utf-8", "replace")
                elif field_number == 3 and isinstance(value, int):
                    status = value
    return TraceSpan(
        trace_id=ids[1],
        span_id=ids[2],
        parent_span_id=ids[4],
        name=name,
        kind=_enum(kind, SPAN_KINDS, ""),
        start_unix_nano=times[7],
        end_unix_nano=times[8],
        attributes=_proto_attributes(iter(attributes)),
        service=service,
        scope=scope,
        status=_enum(status, STATUS_CODES, ""),
        status_message=status_message,
        events=tuple(events),
    )


def _proto_event(data: bytes) -> SpanEvent:
    name, when = "", 0
    attributes: list[bytes] = []
    for number, _, raw in _fields(data):
        if number == 1 and isinstance(raw, int):
            when = raw
        elif number == 2 and isinstance(raw, bytes):
            name = raw.decode("utf-8", "replace")
        elif number == 3 and isinstance(raw, bytes):
            attributes.append(raw)
    return SpanEvent(name=name, time_unix_nano=when, attributes=_proto_attributes(iter(attributes)))
