from __future__ import annotations

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
