"""The OTLP/HTTP receiver: tests/fixtures/otlp (tests/fixtures/EXPECTED.md §3), protobuf and JSON, gzip, temporality,
retries, errors and tenancy — with the real OpenTelemetry SDK exporters as clients."""
from __future__ import annotations

import gzip
import json
import threading
import tracemalloc
import zlib

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (ExportMetricsServiceRequest,
                                                                        ExportMetricsServiceResponse)
from sqlalchemy import func, select

from rest_support import bearer, client_for
from fortium_metrics import apikeys
from fortium_metrics.errors import Invalid
from fortium_metrics.otlp import decode
from fortium_metrics.store.models import AgentSession, MetricEvent, User
from fixture_paths import OTLP

pytestmark = pytest.mark.anyio
SAMPLES = OTLP
JSON_TYPE = {"Content-Type": "application/json"}
PROTO_TYPE = {"Content-Type": "application/x-protobuf"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def as_protobuf(name: str, message_type) -> bytes:
    message = message_type()
    json_format.Parse(sample(name), message, ignore_unknown_fields=True)
    return message.SerializeToString()


async def totals(store, principal) -> dict:
    async with store.unit_of_work(principal) as uow:
        kinds = dict((await uow.session.execute(select(MetricEvent.kind, func.count()).group_by(MetricEvent.kind))).all())
        api = (await uow.session.execute(select(
            func.sum(MetricEvent.input_tokens), func.sum(MetricEvent.output_tokens), func.sum(MetricEvent.cache_read_tokens),
            func.sum(MetricEvent.cache_write_tokens), func.sum(MetricEvent.cost_usd)).where(MetricEvent.kind == "api_request"))).one()
        raw = dict((await uow.session.execute(select(MetricEvent.name, func.sum(MetricEvent.value))
                                              .where(MetricEvent.kind == "other").group_by(MetricEvent.name))).all())
        counts = dict((await uow.session.execute(select(MetricEvent.name, func.sum(MetricEvent.value))
                                                 .where(MetricEvent.kind == "productivity_metric")
                                                 .group_by(MetricEvent.name))).all())
        lines = (await uow.session.execute(select(func.sum(MetricEvent.lines_added), func.sum(MetricEvent.lines_removed)))).one()
        failed = dict((await uow.session.execute(select(MetricEvent.kind, func.count()).where(MetricEvent.success.is_(False))
                                                 .group_by(MetricEvent.kind))).all())
        sessions = await uow.session.scalar(select(func.count()).select_from(AgentSession))
    return {"kinds": kinds, "api": tuple(api[:4]) + (round(api[4] or 0, 6),), "raw": raw, "counts": counts,
            "lines": tuple(lines),
            "failed": failed, "sessions": sessions}


def assert_expected(found: dict) -> None:
    assert found["kinds"]["prompt"] == 1 and found["kinds"]["api_request"] == 6
    assert found["kinds"]["tool_execution"] == 3 and found["kinds"]["tool_decision"] == 4
    assert found["kinds"]["api_error"] == 1 and found["sessions"] == 1
    assert found["api"] == (39, 1064, 100660, 11620, 0.07342)
    assert found["lines"] == (24, 7)
    assert found["failed"] == {"tool_decision": 1, "api_error": 1}
    assert found["raw"]["claude_code.token.usage"] == 39 + 1064 + 100660 + 11620  # same usage, never summed twice
    assert round(found["raw"]["claude_code.cost.usage"], 6) == 0.07342
    assert found["counts"] == {"commits": 1, "active_time.user": 21.5, "active_time.cli": 48.2}  # no pull requests


async def test_the_json_samples_give_the_expected_totals_and_a_retry_adds_nothing(api, keys, store, people):
    for _ in range(2):  # the exporter retries after a network error: same data again
        metrics = await api.post("/v1/metrics", content=sample("metrics.json"), headers={**JSON_TYPE, **bearer(keys["alice"])})
        logs = await api.post("/v1/logs", content=sample("logs.json"), headers={**JSON_TYPE, **bearer(keys["alice"])})
        assert (metrics.status_code, logs.status_code) == (200, 200)
        assert metrics.json() == {} and logs.json() == {}
    assert_expected(await totals(store, people.alice))


async def test_protobuf_and_gzip_under_the_otlp_base_path(api, keys, store, people):
    headers = {**PROTO_TYPE, "Content-Encoding": "gzip", **bearer(keys["alice"])}
    metrics = await api.post("/otlp/v1/metrics", content=gzip.compress(as_protobuf("metrics.json", ExportMetricsServiceRequest)), headers=headers)
    logs = await api.post("/otlp/v1/logs", content=gzip.compress(as_protobuf("logs.json", ExportLogsServiceRequest)), headers=headers)
    assert metrics.status_code == logs.status_code == 200
    assert metrics.headers["content-type"] == "application/x-protobuf"
    ExportLogsServiceResponse().ParseFromString(logs.content)  # a valid (empty) response message
    assert_expected(await totals(store, people.alice))


async def test_the_bare_base_path_accepts_json(api, keys, store, people):
    response = await api.post("/otlp", content=sample("logs.json"), headers={**JSON_TYPE, **bearer(keys["alice"])})
    assert response.status_code == 200
    assert (await totals(store, people.alice))["kinds"]["api_request"] == 6


async def test_an_organisation_key_takes_the_user_from_the_payload(api, store, people):
    async with store.unit_of_work(people.alice) as uow:
        org_key = (await apikeys.create_api_key(uow, "otel collector", ["ingest"])).secret
    response = await api.post("/v1/logs", content=sample("logs.json"), headers={**JSON_TYPE, **bearer(org_key)})
    assert response.status_code == 200
    async with store.unit_of_work(people.alice) as uow:
        jane = await uow.session.scalar(select(User).where(User.email == "jane.doe@example.com"))
        owners = set(await uow.session.scalars(select(MetricEvent.user_id)))
    assert owners == {jane.id}


async def test_prompt_text_is_never_stored(api, keys, store, people):
    data = json.loads(sample("logs.json"))
    record = data["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["attributes"].append({"key": "prompt", "value": {"stringValue": "my secret plan"}})
    await api.post("/v1/logs", json=data, headers=bearer(keys["alice"]))
    async with store.unit_of_work(people.alice) as uow:
        stored = [e.attributes for e in await uow.session.scalars(select(MetricEvent))]
    assert stored and "my secret plan" not in json.dumps(stored)


@pytest.mark.parametrize("headers, body, status", [
    ({"Content-Type": "text/plain"}, b"hello", 415),
    (JSON_TYPE, b"{not json", 400),
    (PROTO_TYPE, b"\xff\xff\xff garbage", 400),
    ({**JSON_TYPE, "Content-Encoding": "gzip"}, b"not gzip", 400),
])
async def test_bad_requests_get_clear_statuses(api, keys, headers, body, status):
    response = await api.post("/v1/metrics", content=body, headers={**headers, **bearer(keys["alice"])})
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


async def test_missing_key_is_401_and_charlie_sees_nothing_of_alices_telemetry(api, keys, store, people):
    assert (await api.post("/v1/logs", content=sample("logs.json"), headers=JSON_TYPE)).status_code == 401
    await api.post("/v1/logs", content=sample("logs.json"), headers={**JSON_TYPE, **bearer(keys["alice"])})
    found = await totals(store, people.charlie)
    assert found["kinds"] == {} and found["sessions"] == 0


async def test_partial_success_reports_rejected_records(api, keys):
    data = json.loads(sample("logs.json"))
    records = data["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records[1]["attributes"].append({"key": "input_tokens", "value": {"intValue": "-5"}})
    response = await api.post("/v1/logs", json=data, headers=bearer(keys["alice"]))
    body = response.json()
    assert response.status_code == 200
    assert body["partialSuccess"]["rejectedLogRecords"] == "1" and "input_tokens" in body["partialSuccess"]["errorMessage"]


def _lines_export(values: list[float], start_ns: int = 1_760_000_000_000_000_000) -> bytes:
    """One cumulative lines-of-code counter (type=added), one point per value, a second apart."""
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "claude_code.lines_of_code.count"
    metric.sum.aggregation_temporality = 2  # cumulative
    metric.sum.is_monotonic = True
    for i, value in enumerate(values):
        point = metric.sum.data_points.add()
        point.start_time_unix_nano, point.time_unix_nano, point.as_double = start_ns, start_ns + (i + 1) * 10**9, value
        attribute = point.attributes.add()
        attribute.key, attribute.value.string_value = "type", "added"
    return request.SerializeToString()


async def test_nan_and_infinite_points_are_rejected_and_leave_the_counter_intact(api, keys, store, people):
    """A NaN point of a counter was a 500 (it became int(NaN) lines); kept as the series' last
    value it would also have made every later delta NaN."""
    headers = {**PROTO_TYPE, **bearer(keys["alice"])}
    first = await api.post("/v1/metrics", content=_lines_export([10, float("nan"), float("inf")]), headers=headers)
    assert first.status_code == 200
    response = ExportMetricsServiceResponse.FromString(first.content)
    assert response.partial_success.rejected_data_points == 2 and "NaN" in response.partial_success.error_message
    later = await api.post("/v1/metrics", content=_lines_export([10, 14]), headers=headers)
    assert later.status_code == 200
    assert (await totals(store, people.alice))["lines"] == (14, 0)


def _bomb(encoding: str, size: int) -> bytes:
    """`size` zero bytes, compressed a chunk at a time (the bomb is made without holding it)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    return b"".join([*(packer.compress(chunk) for _ in range(size >> 20)), packer.flush()])


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_decompression_bomb_is_413_and_never_inflated_past_the_limit(store, backend, tmp_path, keys, encoding):
    """A small compressed body that inflates to 64 MiB: the receiver stops at the limit. Measured
    as the memory Python allocated while answering (the bomb's output would be 64 MiB)."""
    bomb = _bomb(encoding, 64 << 20)
    limit = 1 << 20
    assert len(bomb) < limit // 4
    async with client_for(store, backend, tmp_path, max_body_bytes=limit) as api:
        tracemalloc.start()
        try:
            response = await api.post("/v1/logs", content=bomb,
                                      headers={**JSON_TYPE, "Content-Encoding": encoding, **bearer(keys["alice"])})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and error["field"] == "body" and str(limit) in error["message"]
    assert peak < 8 * limit


def test_inflating_stops_one_byte_past_the_limit_and_keeps_what_fits():
    bomb = _bomb("gzip", 16 << 20)
    produced = []
    real = zlib.decompressobj

    class Counting:  # counts the bytes the inflater hands back
        def __init__(self, *args):
            self.inner = real(*args)

        def decompress(self, data, max_length=0):
            out = self.inner.decompress(data, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decode.zlib, "decompressobj", Counting)
        with pytest.raises(decode.TooLarge):
            decode.inflate(bomb, "gzip", 4096)
    assert sum(produced) == 4097
    two_members = gzip.compress(b"a" * 3000) + gzip.compress(b"b" * 1000)
    assert decode.inflate(two_members, "gzip", 4000) == b"a" * 3000 + b"b" * 1000
    assert decode.inflate(zlib.compress(b"x" * 4000), "deflate", 4000) == b"x" * 4000
    with pytest.raises(Invalid, match="truncated"):
        decode.inflate(gzip.compress(b"x" * 4000)[:-12], "gzip", 4000)


async def test_compressed_bodies_are_decoded_in_a_worker_thread(api, keys, monkeypatch):
    """Inflating and parsing a big export is CPU work: on the event loop it stalled every other
    request (a health check took 11 s during a 1 MiB gzip body)."""
    threads = []
    real = decode.parse

    def parse(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(decode, "parse", parse)
    headers = {**JSON_TYPE, "Content-Encoding": "gzip", **bearer(keys["alice"])}
    assert (await api.post("/v1/logs", content=gzip.compress(sample("logs.json")), headers=headers)).status_code == 200
    assert (await api.post("/v1/logs", content=sample("logs.json"), headers={**JSON_TYPE, **bearer(keys["alice"])})).status_code == 200
    assert threads[0] is not threading.main_thread() and threads[1] is threading.main_thread()
