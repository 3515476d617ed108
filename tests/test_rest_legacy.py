"""The old Fortium endpoints: bodies from the legacy interfaces format note §1 and §3."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fortium_metrics.store.models import AgentSession
from rest_support import bearer, make_key, stored_events

pytestmark = pytest.mark.anyio
TOKEN = "3f" * 32
G3B_TOOL_RECORD = {  # legacy-local-metrics.md §3.4(b), as hooks/tool-metrics.js posts it
    "event_type": "tool_execution", "timestamp": "2025-09-15T09:20:31-05:00", "tool_name": "Edit", "success": True,
    "execution_time_ms": 63, "user": "alice@a.test", "user_id": "8c1f7a52-5d1e-4c9b-9a43-1f2e3d4c5b6a",
    "user_name": "Alice", "organization_id": "1", "session_id": "default-session", "auth_token": TOKEN,
    "file_path": "/home/alice/src/app.py", "lines_added": 3, "lines_removed": 1, "net_lines": 2, "replace_all": False,
    "enhanced_activity": {"id": "activity_1757946031000_k2j3h4g5f",
                          "user": {"id": "8c1f7a52", "name": "Alice", "email": "alice@a.test"},
                          "action": {"type": "file_operation", "name": "Edit", "description": "Edit app.py", "category": "code"},
                          "target": {"name": "app.py", "type": "file", "path": "/home/alice/src/app.py"},
                          "status": "success", "timestamp": "2025-09-15T09:20:31-05:00", "duration_ms": 63,
                          "execution_context": {"project_id": "app", "session_id": "default-session", "environment": "development"},
                          "metrics": {"execution_time_ms": 63, "memory_usage": 41, "error_count": 0, "warning_count": 0},
                          "error_details": None, "artifacts": [], "tags": [], "priority": "low", "is_automated": True},
}
SESSION = "0b7e4bd2-3c52-4b7e-9d0e-8f1a2b3c4d5e"


async def test_the_g3b_tool_record_is_stored_with_201_and_the_old_envelope(api, store, people, keys):
    response = await api.post("/api/v1/hooks/tool-metrics", json=G3B_TOOL_RECORD,
                              headers={**bearer(keys["alice"]), "User-Agent": "Claude-Config-Hooks/2.0.0"})
    body = response.json()
    assert response.status_code == 201
    assert body["success"] is True and body["message"] == "Tool metrics received and activity created successfully"
    assert body["data"] | {"id": None, "received_at": None} == {
        "id": None, "tool_name": "Edit", "agent_name": None, "session_id": "default-session", "activity_created": True,
        "received_at": None, "processed": True}
    assert body["timestamp"].endswith("Z") and body["data"]["received_at"].endswith("Z")
    [row] = await stored_events(store, people.alice)
    assert (row.kind, row.name, row.success, row.duration_ms, row.session_id, row.user_id) == (
        "tool_execution", "Edit", True, None, None, people.alice.user_id)
    assert row.attributes["legacy_session_id"] == "default-session" and row.attributes["legacy_execution_time_ms"] == 63
    assert row.attributes["enhanced_activity"]["action"]["name"] == "Edit" and row.attributes["lines_added"] == 3


async def test_auth_token_is_never_stored_nor_echoed(api, store, people, keys):
    nested = {**G3B_TOOL_RECORD, "timestamp": "garbage", "enhanced_activity": {"auth_token": TOKEN}}
    rejected = await api.post("/api/v1/hooks/tool-metrics", json=nested, headers=bearer(keys["alice"]))
    stored = await api.post("/api/v1/hooks/tool-metrics", json={**G3B_TOOL_RECORD, "enhanced_activity": {"auth_token": TOKEN, "x": 1}},
                            headers=bearer(keys["alice"]))
    assert rejected.status_code == 422 and rejected.json()["error"]["field"] == "timestamp"
    assert TOKEN not in rejected.text and TOKEN not in stored.text and stored.status_code == 201
    rows = await stored_events(store, people.alice)
    assert len(rows) == 1
    assert "auth_token" not in json.dumps(rows[0].attributes) and TOKEN not in json.dumps(rows[0].attributes)


async def test_a_resent_body_is_counted_once(api, store, people, keys):
    first = await api.post("/api/v1/hooks/tool-metrics", json=G3B_TOOL_RECORD, headers=bearer(keys["alice"]))
    again = await api.post("/api/v1/hooks/tool-metrics", json=G3B_TOOL_RECORD, headers=bearer(keys["alice"]))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["data"]["activity_created"] is False and again.json()["data"]["id"] == first.json()["data"]["id"]
    assert len(await stored_events(store, people.alice)) == 1


async def test_pre_is_skipped_and_post_becomes_unknown_with_unknown_outcome(api, store, people, keys):
    base = {"event_type": "tool_execution", "timestamp": "2025-09-08T10:15:30-05:00", "success": True,
            "execution_time_ms": 57, "user": "alice", "session_id": "default"}
    pre = await api.post("/api/v1/hooks/tool-metrics", json={**base, "tool_name": "pre"}, headers=bearer(keys["alice"]))
    post = await api.post("/api/v1/hooks/tool-metrics", json={**base, "tool_name": "post"}, headers=bearer(keys["alice"]))
    assert (pre.status_code, post.status_code) == (201, 201)
    assert pre.json()["data"]["activity_created"] is False and pre.json()["data"]["id"] is None
    [row] = await stored_events(store, people.alice)
    assert (row.name, row.success, row.attributes["flags"]) == ("unknown", None, ["tool_name_missing"])


async def test_neither_tool_name_nor_session_id_is_required(api, store, people, keys):
    response = await api.post("/api/v1/hooks/tool-metrics", json={"success": False, "error_message": "boom"},
                              headers=bearer(keys["alice"]))
    assert response.status_code == 201
    [row] = await stored_events(store, people.alice)
    assert (row.name, row.success, row.session_id) == ("unknown", False, None)


async def test_agent_records_become_agent_invocations(api, store, people, keys):
    record = {"event_type": "agent_invocation", "timestamp": "2025-09-08T10:16:02-05:00", "agent_name": "frontend-developer",
              "task_description": "Build the settings page", "success": True, "execution_time_ms": 35}
    response = await api.post("/api/v1/hooks/tool-metrics", json=record, headers=bearer(keys["alice"]))
    assert response.status_code == 201 and response.json()["data"]["agent_name"] == "frontend-developer"
    [row] = await stored_events(store, people.alice)
    assert (row.kind, row.name, row.duration_ms, row.attributes["task_description"]) == (
        "agent_invocation", "frontend-developer", None, "Build the settings page")


async def test_a_uuid_session_id_attributes_the_event_to_the_session(api, store, people, keys):
    await api.post("/api/v1/hooks/tool-metrics", json={**G3B_TOOL_RECORD, "session_id": SESSION}, headers=bearer(keys["alice"]))
    [row] = await stored_events(store, people.alice)
    assert row.session_id == SESSION and "legacy_session_id" not in row.attributes


async def test_an_organisation_key_attributes_the_record_to_the_body_user(api, store, people):
    org_key = await make_key(store, people.org_a, ["ingest"])
    response = await api.post("/api/v1/hooks/tool-metrics", json=G3B_TOOL_RECORD, headers=bearer(org_key))
    assert response.status_code == 201
    [row] = await stored_events(store, people.alice)
    assert row.user_id == people.alice.user_id


async def test_legacy_endpoints_need_the_api_key(api):
    response = await api.post("/api/v1/hooks/tool-metrics", json=G3B_TOOL_RECORD)
    assert response.status_code == 401 and TOKEN not in response.text


async def test_session_start_and_end(api, store, people, keys):
    alice = bearer(keys["alice"])
    start = await api.post("/api/v1/hooks/session-start", headers=alice, json={
        "session_id": SESSION, "start_time": "2025-09-08T10:00:00-05:00", "user_id": "default-user",
        "environment": "development", "git_branch": "main", "working_directory": "/home/alice/src/app"})
    end = await api.post("/api/v1/hooks/session-end", headers=alice, json={
        "session_id": SESSION, "end_time": "2025-09-08T11:30:00-05:00", "duration_hours": 1.5, "productivity_score": 7.5,
        "metrics": {"commands_executed": 42}})
    assert (start.status_code, end.status_code) == (201, 201)
    assert start.json()["data"]["id"].startswith("session_") and start.json()["data"]["recorded"] is True
    assert end.json()["data"]["id"].startswith("session_end_") and end.json()["data"]["productivity_score"] == 7.5
    async with store.unit_of_work(people.alice) as uow:
        session = await uow.session.scalar(select(AgentSession))
    assert session.id == SESSION and (session.ended_at - session.started_at).total_seconds() == 5400
    assert session.attributes["git_branch"] == "main" and session.attributes["legacy_productivity_score"] == 7.5


async def test_a_non_uuid_session_start_is_acknowledged_not_recorded(api, store, people, keys):
    response = await api.post("/api/v1/hooks/session-start", json={"session_id": "default-session", "start_time": "2025-09-08T10:00:00Z"},
                              headers=bearer(keys["alice"]))
    assert response.status_code == 201 and response.json()["data"]["recorded"] is False
    async with store.unit_of_work(people.alice) as uow:
        assert await uow.session.scalar(select(AgentSession)) is None


async def test_session_start_without_session_id_is_422_naming_it(api, keys):
    response = await api.post("/api/v1/hooks/session-start", json={"start_time": "2025-09-08T10:00:00Z"}, headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == "session_id"


async def test_productivity_data_records_the_legacy_score_once(api, store, people, keys):
    body = {"session_id": SESSION, "productivity_score": 8.2, "metrics": {"commands_per_hour": 14},
            "recommendations": [{"priority": "info", "message": "Keep going"}], "timestamp": "2025-09-08T11:00:00-05:00"}
    first = await api.post("/api/v1/hooks/productivity-data", json=body, headers=bearer(keys["alice"]))
    again = await api.post("/api/v1/hooks/productivity-data", json=body, headers=bearer(keys["alice"]))
    out_of_scale = await api.post("/api/v1/hooks/productivity-data", json={**body, "productivity_score": 82}, headers=bearer(keys["alice"]))
    assert first.status_code == 201 and first.json()["data"]["id"].startswith("productivity_")
    assert again.json()["data"]["recorded"] is False
    assert out_of_scale.status_code == 422 and out_of_scale.json()["error"]["field"] == "productivity_score"
    [row] = await stored_events(store, people.alice)
    assert (row.kind, row.name, row.value, row.session_id) == ("productivity_metric", "legacy_productivity_score", 8.2, SESSION)


async def test_hooks_health_is_public(api):
    response = await api.get("/api/v1/hooks/health")
    data = response.json()["data"]
    assert response.status_code == 200 and (data["status"], data["service"]) == ("healthy", "claude-hooks-integration")
    assert data["endpoints"]["tool_metrics"] == "/api/v1/hooks/tool-metrics"


async def test_collect_records_a_command_with_a_batch_id_and_dedups(api, store, people, keys):
    body = {"session_id": SESSION, "user_identifier": "alice@a.test", "agent_name": "tech-lead-orchestrator",
            "command": "/plan-product", "execution_time_ms": 5300, "success": True, "error_details": None,
            "metadata": {"claude_version": "2.0.1"}, "timestamp": "2025-09-15T14:20:31Z"}
    first = await api.post("/mcp/metrics/collect", json=body, headers=bearer(keys["alice"]))
    again = await api.post("/mcp/metrics/collect", json=body, headers=bearer(keys["alice"]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["batch_id"] == again.json()["batch_id"] and again.json()["duplicates"] == 1
    [row] = await stored_events(store, people.alice)
    assert (row.kind, row.name, row.duration_ms, row.session_id, row.attributes["agent_name"]) == (
        "command", "/plan-product", 5300.0, SESSION, "tech-lead-orchestrator")


async def test_collect_without_command_is_an_agent_invocation(api, store, people, keys):
    body = {"agent_name": "code-reviewer", "execution_time_ms": 1200, "success": False, "error_details": "timeout"}
    response = await api.post("/mcp/metrics/collect", json=body, headers=bearer(keys["alice"]))
    assert response.status_code == 201
    [row] = await stored_events(store, people.alice)
    assert (row.kind, row.name, row.success, row.attributes["error_details"]) == ("agent_invocation", "code-reviewer", False, "timeout")


@pytest.mark.parametrize("body,field", [
    ({"execution_time_ms": 5}, "command"),
    ({"command": "/x", "execution_time_ms": "fast"}, "execution_time_ms"),
    ({"command": "/x", "sucess": True}, "sucess"),
    ({"command": "/x", "user_identifier": "bob@a.test"}, "user"),
])
async def test_collect_errors_name_the_field(api, keys, body, field):
    response = await api.post("/mcp/metrics/collect", json=body, headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == field


async def test_charlie_sees_none_of_alices_legacy_records(api, keys):
    await api.post("/api/v1/hooks/tool-metrics", json=G3B_TOOL_RECORD, headers=bearer(keys["alice"]))
    activity = (await api.get("/api/v1/activity", headers=bearer(keys["charlie"]))).json()["items"]
    assert activity == []
