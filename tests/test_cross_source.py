"""The same API requests reaching us through OTLP (Claude Code's telemetry) and through an imported
transcript are counted once: the request id is the event's identity whatever the source."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from rest_support import bearer
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.importers.base import ParseStats
from fortium_metrics.importers.runner import LocalSink, run_import
from fortium_metrics.importers.transcripts import TranscriptParser
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import MetricEvent
from fixture_paths import TRANSCRIPTS

pytestmark = pytest.mark.anyio


def transcript_requests() -> list[dict]:
    parser = TranscriptParser(home=TRANSCRIPTS)
    items = parser.parse(parser.discover([TRANSCRIPTS]), ParseStats())
    return [i.event for i in items if i.event and i.event["type"] == "api_request"]


def as_otlp(requests: list[dict]) -> dict:
    """What Claude Code's OTLP export says about the same requests (no 5m/1h cache split)."""
    def attr(key, value):
        kind = "intValue" if isinstance(value, int) else "doubleValue" if isinstance(value, float) else "stringValue"
        return {"key": key, "value": {kind: value}}

    records = []
    for sequence, request in enumerate(requests, 1):
        attributes = {"session.id": request["session_id"], "event.name": "api_request", "event.sequence": sequence,
                      "request_id": request["request_id"], "model": request["model"],
                      "input_tokens": request["input_tokens"], "output_tokens": request["output_tokens"],
                      "cache_read_tokens": request["cache_read_tokens"],
                      "cache_creation_tokens": request["cache_write_5m_tokens"] + request["cache_write_1h_tokens"]}
        records.append({"timeUnixNano": str(1_756_389_600_000_000_000 + sequence * 1_000_000_000),
                        "body": {"stringValue": "claude_code.api_request"},
                        "attributes": [attr(k, v) for k, v in attributes.items()]})
    return {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": records}]}]}


async def api_request_totals(store, principal) -> tuple[int, int, int]:
    async with store.unit_of_work(principal) as uow:
        row = (await uow.session.execute(select(func.count(), func.sum(MetricEvent.output_tokens), func.sum(MetricEvent.input_tokens))
                                         .where(MetricEvent.kind == "api_request"))).one()
    return tuple(row)


async def test_requests_seen_by_otlp_and_by_a_transcript_count_once(api, keys, store, people, backend, tmp_path):
    requests = transcript_requests()
    assert len(requests) == 18  # EXPECTED §2: 9 + 9 after the final-chunk rule
    response = await api.post("/v1/logs", json=as_otlp(requests), headers=bearer(keys["alice"]))
    assert response.status_code == 200 and response.json() == {}
    assert await api_request_totals(store, people.alice) == (18, 2742, 111)

    ctx = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "d"), store=store)
    report = await run_import(TranscriptParser(home=TRANSCRIPTS), [TRANSCRIPTS], LocalSink(ctx, Principal.org_admin(people.org_a)),
                              user="alice@a.test", show_progress=False)
    await ctx.close(dispose_store=False)
    assert report.duplicates >= 18  # every request was already known from OTLP
    assert await api_request_totals(store, people.alice) == (18, 2742, 111)


async def test_a_parallel_transcript_import_gives_the_same_totals(store, people, backend, tmp_path):
    ctx = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "d"), store=store)
    sink = LocalSink(ctx, Principal.org_admin(people.org_a))
    report = await run_import(TranscriptParser(home=TRANSCRIPTS), [TRANSCRIPTS], sink, user="alice@a.test",
                              show_progress=False, workers=2)
    again = await run_import(TranscriptParser(home=TRANSCRIPTS), [TRANSCRIPTS], sink, user="alice@a.test",
                             show_progress=False, workers=2)
    await ctx.close(dispose_store=False)
    assert (report.imported, report.rejected, again.imported, again.skipped_files) == (report.imported, 0, 0, report.files)
    assert await api_request_totals(store, people.alice) == (18, 2742, 111)
