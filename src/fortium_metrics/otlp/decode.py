"""Request bodies -> the official OTLP protobuf messages (opentelemetry-proto), for both
`application/x-protobuf` and `application/json`, gzip or not."""
from __future__ import annotations

import gzip
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


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(f"content type {kind or '(none)'!r} is not supported; use {PROTOBUF} or {JSON}")
    return kind


def inflate(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "identity").lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError) as error:
        raise Invalid(f"body: cannot decompress {encoding} ({error})", field="body") from None
    if encoding != "identity":
        raise Invalid(f"Content-Encoding: {encoding!r} is not supported (gzip, deflate)", field="Content-Encoding")
    return body


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
