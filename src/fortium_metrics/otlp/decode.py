"""Request bodies -> the official OTLP protobuf messages (opentelemetry-proto), for both
`application/x-protobuf` and `application/json`, gzip or not."""
from __future__ import annotations

import json
import zlib

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from ..errors import Invalid

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SIGNALS = {
    "metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
}


class UnsupportedMediaType(Exception):
    pass


class TooLarge(Exception):
    """The body inflates to more than the limit (a decompression bomb, or simply too much)."""


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(f"content type {kind or '(none)'!r} is not supported; use {PROTOBUF} or {JSON}")
    return kind


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The decompressed body, never more than `limit` bytes: inflated step by step with a cap on
    the output, so 1 MiB of gzip that would become gigabytes stops at `limit` + 1 bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in _WBITS:
        raise Invalid(f"Content-Encoding: {encoding!r} is not supported (gzip, deflate)", field="Content-Encoding")
    parts: list[bytes] = []
    produced, rest = 0, body
    try:
        while rest:  # gzip allows several members one after the other
            inflater = zlib.decompressobj(_WBITS[encoding])
            part = inflater.decompress(rest, limit - produced + 1)
            produced += len(part)
            if produced > limit:
                raise TooLarge(f"body: more than {limit} bytes once decompressed (FORTIUM_MAX_BODY_BYTES)")
            if not inflater.eof:
                raise Invalid(f"body: cannot decompress {encoding} (the stream is truncated)", field="body")
            parts.append(part)
            rest = inflater.unused_data if encoding == "gzip" else b""
    except zlib.error as error:
        raise Invalid(f"body: cannot decompress {encoding} ({error})", field="body") from None
    return b"".join(parts)


def parse(signal: str, body: bytes, kind: str) -> Message:
    request_type = SIGNALS[signal][0]
    message = request_type()
    try:
        if kind == PROTOBUF:
            message.ParseFromString(body)
        else:
            data = json.loads(body or b"{}")
            _drop_hex_ids(data)
            json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, TypeError) as error:
        raise Invalid(f"body: not a valid OTLP {signal} export ({error})", field="body") from None
    return message


def _drop_hex_ids(node) -> None:
    """OTLP/JSON writes trace and span ids as hex where protobuf JSON expects base64; we do not
    use them, so they are removed rather than mis-decoded."""
    if isinstance(node, dict):
        for key in ("traceId", "spanId", "trace_id", "span_id"):
            node.pop(key, None)
        for value in node.values():
            _drop_hex_ids(value)
    elif isinstance(node, list):
        for value in node:
            _drop_hex_ids(value)


def response(signal: str, kind: str, rejected: int = 0, message: str = "") -> bytes:
    response_message = SIGNALS[signal][1]()
    if rejected or message:
        partial = response_message.partial_success
        if signal == "metrics":
            partial.rejected_data_points = rejected
        else:
            partial.rejected_log_records = rejected
        partial.error_message = message
    if kind == PROTOBUF:
        return response_message.SerializeToString()
    return json_format.MessageToJson(response_message, indent=None).encode() if (rejected or message) else b"{}"


def value_of(any_value: AnyValue):
    """AnyValue -> plain Python."""
    field = any_value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if field == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in any_value.kvlist_value.values}
    if field == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, field)


def attributes(key_values) -> dict:
    return {kv.key: value_of(kv.value) for kv in key_values}
