"""The real OpenTelemetry Python SDK exporters (http/protobuf and http/json) against a live server:
delta and cumulative temporality, counter restarts, and events."""
from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter as JsonMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as ProtoMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from sqlalchemy import func, select

from fortium_metrics.store.models import MetricEvent

pytestmark = pytest.mark.anyio
EXPORTERS = {"http/protobuf": (ProtoMetricExporter, ProtoLogExporter), "http/json": (JsonMetricExporter, JsonLogExporter)}
RESOURCE = Resource.create({"service.name": "claude-code", "team.id": "platform", "department": "engineering"})
POINT = {"session.id": "1b7e6f3a-2d4c-4e8f-9a0b-c1d2e3f4a5b6", "type": "added", "model": "claude-sonnet-4-5"}


class ClaudeCodeProcess:
    """One 'Claude Code process': a meter provider exporting to the server on demand."""

    def __init__(self, exporter_type, url: str, key: str, temporality: AggregationTemporality) -> None:
        exporter = exporter_type(endpoint=f"{url}/v1/metrics", headers={"Authorization": f"Bearer {key}"},
                                 preferred_temporality={Counter: temporality})
        self.reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        self.provider = MeterProvider(metric_readers=[self.reader], resource=RESOURCE)
        self.lines = self.provider.get_meter("com.anthropic.claude_code").create_counter("claude_code.lines_of_code.count")

    def add(self, value: int) -> None:
        self.lines.add(value, POINT)

    def export(self) -> None:
        assert self.provider.force_flush(timeout_millis=20_000)

    def stop(self) -> None:
        self.provider.shutdown()


async def lines_added(store, principal) -> int:
    async with store.unit_of_work(principal) as uow:
        return await uow.session.scalar(select(func.coalesce(func.sum(MetricEvent.lines_added), 0))) or 0


@pytest.mark.parametrize("protocol", EXPORTERS)
@pytest.mark.parametrize("temporality", [AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE])
async def test_counters_are_counted_exactly_across_exports_and_restarts(live_server, store, keys, people, protocol, temporality):
    process = ClaudeCodeProcess(EXPORTERS[protocol][0], live_server.url, keys["alice"], temporality)
    process.add(5)
    process.export()
    process.add(3)
    process.export()
    process.export()  # nothing new: a cumulative exporter re-sends 8, a delta one sends nothing
    assert await lines_added(store, people.alice) == 8
    process.stop()
    restarted = ClaudeCodeProcess(EXPORTERS[protocol][0], live_server.url, keys["alice"], temporality)
    restarted.add(2)  # a new process: its cumulative counter starts again from 0
    restarted.export()
    restarted.stop()
    assert await lines_added(store, people.alice) == 10
    assert await lines_added(store, people.charlie) == 0


@pytest.mark.parametrize("protocol", EXPORTERS)
async def test_events_from_the_sdk_log_exporter_are_stored(live_server, store, keys, people, protocol):
    exporter = EXPORTERS[protocol][1](endpoint=f"{live_server.url}/v1/logs", headers={"Authorization": f"Bearer {keys['alice']}"})
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code.events")
    common = {"session.id": POINT["session.id"], "prompt.id": "p1"}
    logger.emit(body="claude_code.tool_result", attributes={**common, "event.name": "tool_result", "event.sequence": 1,
                                                           "tool_name": "Bash", "success": "false", "duration_ms": 12})
    logger.emit(body="claude_code.api_request", attributes={**common, "event.name": "api_request", "event.sequence": 2,
                                                           "model": "m", "input_tokens": "7", "output_tokens": 9,
                                                           "cost_usd": 0.5, "request_id": "req_sdk_1"})
    logger.emit(body="claude_code.brand_new_event", attributes={**common, "event.name": "brand_new_event", "event.sequence": 3})
    provider.force_flush()
    provider.shutdown()
    async with store.unit_of_work(people.alice) as uow:
        rows = {e.kind: e for e in await uow.session.scalars(select(MetricEvent))}
    assert (rows["tool_execution"].name, rows["tool_execution"].success, rows["tool_execution"].duration_ms) == ("Bash", False, 12)
    assert (rows["api_request"].input_tokens, rows["api_request"].output_tokens, rows["api_request"].cost_usd) == (7, 9, 0.5)
    assert rows["other"].name == "claude_code.brand_new_event"
