"""Typed ingestion endpoints: one object or a list, type from the path, documented status codes."""
from __future__ import annotations

import pytest

from fortium_metrics.ingest import MAX_BATCH
from fortium_metrics.web.api import TYPED
from rest_support import bearer, make_key, stored_events

pytestmark = pytest.mark.anyio
AT = "2025-09-15T14:20:31Z"


@pytest.mark.parametrize("path,model,example", TYPED, ids=[path for path, _, _ in TYPED])
async def test_each_typed_endpoint_stores_one_object_with_201(api, keys, path, model, example):
    response = await api.post(f"/api/v1/metrics/{path}", json=example, headers=bearer(keys["alice"]))
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}


async def test_a_list_is_stored_and_lands_as_its_kind(api, store, people, keys):
    events = [{"tool_name": "Read", "event_id": f"t{i}", "timestamp": AT, "duration_ms": i} for i in range(3)]
    response = await api.post("/api/v1/metrics/tool-executions", json=events, headers=bearer(keys["alice"]))
    assert response.status_code == 201 and response.json()["accepted"] == 3
    rows = await stored_events(store, people.alice)
    assert sorted((r.kind, r.name, r.duration_ms, r.source) for r in rows) == [
        ("tool_execution", "Read", float(i), "rest") for i in range(3)]


async def test_resending_is_200_with_duplicates(api, keys):
    event = {"command_name": "/plan", "event_id": "c1", "timestamp": AT}
    first = await api.post("/api/v1/metrics/commands", json=event, headers=bearer(keys["alice"]))
    again = await api.post("/api/v1/metrics/commands", json=[event], headers=bearer(keys["alice"]))
    assert first.status_code == 201
    assert again.status_code == 200 and again.json()["duplicates"] == 1 and again.json()["accepted"] == 0


async def test_partly_rejected_is_200_with_errors_by_index(api, keys):
    events = [{"agent_name": "reviewer", "timestamp": AT}, {"agent_name": "", "timestamp": AT}, {"input_tokens": -1}]
    response = await api.post("/api/v1/metrics/agent-invocations", json=events, headers=bearer(keys["alice"]))
    body = response.json()
    assert response.status_code == 200
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [(e["index"], e["field"]) for e in body["errors"]][:2] == [(1, "agent_name"), (2, "agent_name")]


async def test_all_rejected_is_422_with_the_envelope_and_the_counts(api, keys):
    response = await api.post("/api/v1/metrics/tasks", json={"status": "done"}, headers=bearer(keys["alice"]))
    body = response.json()
    assert response.status_code == 422
    assert body["error"]["code"] == "invalid" and body["error"]["field"] in {"task_name", "status"}
    assert body["error"]["request_id"] == response.headers["x-request-id"]
    assert (body["accepted"], body["rejected"], len(body["errors"])) == (0, 1, 2)


async def test_wrong_types_name_the_field(api, keys):
    response = await api.post("/api/v1/metrics/token-usage", json={"input_tokens": "many", "cost_usd": -1},
                              headers=bearer(keys["alice"]))
    fields = {e["field"] for e in response.json()["errors"]}
    assert response.status_code == 422 and fields == {"input_tokens", "cost_usd"}


async def test_an_item_of_another_type_is_rejected_naming_type(api, keys):
    events = [{"lines_added": 3, "timestamp": AT}, {"type": "tool_execution", "tool_name": "Read"}]
    response = await api.post("/api/v1/metrics/code-changes", json=events, headers=bearer(keys["alice"]))
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 1
    assert body["errors"] == [{"index": 1, "field": "type", "message": "type: this endpoint records code_change events (got 'tool_execution')"}]


async def test_an_unknown_field_is_rejected_naming_it(api, keys):
    response = await api.post("/api/v1/metrics/productivity", json={"metric": "m", "value": 1, "vlaue": 2},
                              headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "vlaue"


async def test_sessions_start_and_end_through_rest(api, keys):
    headers = bearer(keys["alice"])
    start = await api.post("/api/v1/metrics/sessions/start", json={"session_id": "s-rest", "timestamp": AT}, headers=headers)
    end = await api.post("/api/v1/metrics/sessions/end", json={"session_id": "s-rest", "timestamp": "2025-09-15T15:20:31Z"},
                         headers=headers)
    assert (start.status_code, end.status_code) == (201, 201)
    metrics = (await api.get("/api/v1/sessions/s-rest", headers=headers)).json()
    assert metrics["duration_minutes"] == 60.0


@pytest.mark.parametrize("content,field", [(b"{nope", "body"), (b"", "body"), (b'"text"', "body"), (b"42", "body")])
async def test_garbage_or_wrong_json_is_422_naming_the_body(api, keys, content, field):
    response = await api.post("/api/v1/metrics/commands", content=content,
                              headers={**bearer(keys["alice"]), "Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["field"] == field


async def test_a_form_post_is_415(api, keys):
    response = await api.post("/api/v1/metrics/commands", data={"command_name": "x"}, headers=bearer(keys["alice"]))
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_json_with_a_charset_or_a_json_suffix_is_accepted(api, keys):
    for content_type in ("application/json; charset=utf-8", "application/vnd.fortium+json"):
        response = await api.post("/api/v1/metrics/commands", content=b'{"command_name": "/x", "timestamp": "2025-01-01T00:00:00Z"}',
                                  headers={**bearer(keys["alice"]), "Content-Type": content_type})
        assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("path,wrap", [("tool-executions", False), ("batch", True)])
async def test_more_than_max_batch_events_is_413(api, keys, path, wrap):
    events = [{"type": "tool_execution", "tool_name": "R"}] * (MAX_BATCH + 1)
    response = await api.post(f"/api/v1/metrics/{path}", json={"events": events} if wrap else events,
                              headers=bearer(keys["alice"]))
    assert response.status_code == 413
    assert response.json()["error"] | {"request_id": None} == {
        "code": "payload_too_large", "field": "events", "request_id": None,
        "message": f"events: at most {MAX_BATCH} events per request (got {MAX_BATCH + 1}); split the batch"}


async def test_no_key_is_401_and_a_read_only_key_is_403(api, store, people):
    missing = await api.post("/api/v1/metrics/commands", json={"command_name": "/x"})
    read_only = await make_key(store, people.org_a, ["read"], "alice@a.test")
    forbidden = await api.post("/api/v1/metrics/commands", json={"command_name": "/x"}, headers=bearer(read_only))
    assert missing.status_code == 401
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"


async def test_empty_list_is_200_with_zero_counts(api, keys):
    response = await api.post("/api/v1/metrics/tasks", json=[], headers=bearer(keys["alice"]))
    assert response.status_code == 200 and response.json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": []}


async def test_charlie_writes_only_into_his_organisation(api, store, people, keys):
    await api.post("/api/v1/metrics/tool-executions", json={"tool_name": "Secret", "timestamp": AT}, headers=bearer(keys["charlie"]))
    assert [e.name for e in await stored_events(store, people.charlie)] == ["Secret"]
    assert await stored_events(store, people.alice) == []


async def test_a_developer_key_cannot_record_for_another_user(api, keys):
    response = await api.post("/api/v1/metrics/commands", json={"command_name": "/x", "user": "alice@a.test"},
                              headers=bearer(keys["bob"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "user"
