from __future__ import annotations

import asyncio

import pytest

from rest_support import bearer

pytestmark = pytest.mark.anyio


async def test_batch_stores_and_reports_counts(api, keys):
    events = [{"type": "tool_execution", "tool_name": "Read", "event_id": "e1"}, {"type": "tool_execution"}]
    response = await api.post("/api/v1/metrics/batch", json={"events": events}, headers=bearer(keys["alice"]))
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors"][0]["index"], body["errors"][0]["field"]) == (1, 1, 1, "tool_name")
    again = await api.post("/api/v1/metrics/batch", json={"events": events[:1]}, headers=bearer(keys["alice"]))
    assert again.json()["duplicates"] == 1


async def test_batch_without_or_with_a_bad_key_is_401_with_the_envelope(api):
    missing = await api.post("/api/v1/metrics/batch", json={"events": []})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["error"]["code"] == "unauthorized" and missing.json()["error"]["request_id"]
    bad = await api.post("/api/v1/metrics/batch", json={"events": []}, headers=bearer("fmk_nope"))
    assert bad.status_code == 401


async def test_garbage_json_is_a_field_error(api, keys):
    response = await api.post("/api/v1/metrics/batch", content=b"{nope", headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "body"


async def test_a_nul_character_neither_fails_the_batch_nor_others_committed_with_it(api, keys):
    """Group commit writes concurrent requests in one transaction: an event PostgreSQL could not
    store (U+0000) would abort everyone's. It is stored with U+FFFD instead."""
    def batch(label, size, **fields):
        return [{"type": "tool_execution", "tool_name": "Read", "event_id": f"{label}-{i}", **fields} for i in range(size)]

    batches = [batch("clean", 20), batch("nul", 20, tool_name="Re\u0000ad", attributes={"out": "\u0000"}),
               batch("clean-b", 10), batch("nul-b", 10, session_id="s\u0000")]
    answers = await asyncio.gather(*(api.post("/api/v1/metrics/batch", json={"events": events}, headers=bearer(keys["alice"]))
                                     for events in batches))
    assert [(a.status_code, a.json()["accepted"], a.json()["rejected"]) for a in answers] == [
        (200, len(events), 0) for events in batches]
    again = await api.post("/api/v1/metrics/batch", json={"events": batches[1]}, headers=bearer(keys["alice"]))
    assert again.json()["duplicates"] == 20


async def test_an_infinite_number_is_refused_and_the_summary_keeps_answering(api, keys):
    body = ('{"events": [{"type": "token_usage", "model": "m", "cost_usd": 1e400, "event_id": "inf"},'
            ' {"type": "token_usage", "model": "m", "cost_usd": 0.5, "event_id": "ok"}]}')
    answer = await api.post("/api/v1/metrics/batch", content=body,
                            headers={**bearer(keys["alice"]), "content-type": "application/json"})
    assert (answer.json()["accepted"], answer.json()["errors"][0]["field"]) == (1, "cost_usd")
    summary = await api.get("/api/v1/summary", headers=bearer(keys["alice"]))
    assert summary.status_code == 200
