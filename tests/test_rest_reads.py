"""Read endpoints through REST: results, query validation naming the parameter, isolation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fortium_metrics import teams
from fortium_metrics.principal import Principal
from rest_support import bearer, make_key

pytestmark = pytest.mark.anyio
NOW = datetime.now(timezone.utc).replace(microsecond=0)
SESSION = "0b7e4bd2-3c52-4b7e-9d0e-8f1a2b3c4d5e"


def at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


@pytest.fixture
async def seeded(api, store, people, keys):
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await teams.create_team(uow, "Platform")
    alice = bearer(keys["alice"])
    await api.post("/api/v1/metrics/batch", headers=alice, json={"events": [
        {"type": "session_start", "session_id": SESSION, "timestamp": at(60), "team": "platform"},
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": 10, "session_id": SESSION, "timestamp": at(50), "team": "platform"},
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": 30, "session_id": SESSION, "timestamp": at(49)},
        {"type": "tool_execution", "tool_name": "Bash", "success": False, "session_id": SESSION, "timestamp": at(48)},
        {"type": "agent_invocation", "agent_name": "reviewer", "input_tokens": 100, "output_tokens": 40, "timestamp": at(47)},
        {"type": "session_end", "session_id": SESSION, "timestamp": at(0)},
    ]})
    await api.post("/api/v1/metrics/tool-executions", headers=bearer(keys["charlie"]),
                   json={"tool_name": "Secret", "session_id": "charlie-session", "timestamp": at(5)})
    return keys


async def test_summary_counts_the_window(api, seeded):
    body = (await api.get("/api/v1/summary?days=7", headers=bearer(seeded["alice"]))).json()
    assert (body["sessions"], body["tool_executions"], body["agent_invocations"]) == (1, 3, 1)
    assert body["tool_success_rate"] == pytest.approx(2 / 3, abs=1e-3)


async def test_summary_filters_by_team_and_window(api, seeded):
    alice = bearer(seeded["alice"])
    team = (await api.get("/api/v1/summary?team=platform", headers=alice)).json()
    old = (await api.get(f"/api/v1/summary?start={(NOW - timedelta(days=3)).date()}&end={(NOW - timedelta(days=2)).date()}",
                         headers=alice)).json()
    assert (team["tool_executions"], team["sessions"]) == (1, 1)
    assert old["tool_executions"] == 0


async def test_tool_and_agent_stats(api, seeded):
    alice = bearer(seeded["alice"])
    tools = (await api.get("/api/v1/stats/tools?limit=5", headers=alice)).json()
    agents = (await api.get("/api/v1/stats/agents", headers=alice)).json()
    assert [(t["name"], t["count"]) for t in tools["items"]] == [("Read", 2), ("Bash", 1)]
    assert tools["items"][0]["avg_duration_ms"] == 20.0 and tools["start"] < tools["end"]
    assert [(a["name"], a["input_tokens"]) for a in agents["items"]] == [("reviewer", 100)]


async def test_one_session_and_recent_sessions(api, seeded):
    alice = bearer(seeded["alice"])
    one = (await api.get(f"/api/v1/sessions/{SESSION}", headers=alice)).json()
    recent = (await api.get("/api/v1/sessions?limit=5", headers=alice)).json()
    assert one["tool_executions"] == 3 and one["duration_minutes"] == 60.0
    assert [s["session_id"] for s in recent["sessions"]] == [SESSION]


async def test_recent_activity_latest_first(api, seeded):
    items = (await api.get("/api/v1/activity?limit=2", headers=bearer(seeded["alice"]))).json()["items"]
    assert [(i["kind"], i["name"]) for i in items] == [("agent_invocation", "reviewer"), ("tool_execution", "Bash")]


async def test_bob_a_developer_reads_his_own_data_only(api, seeded):
    bob = bearer(seeded["bob"])
    await api.post("/api/v1/metrics/tool-executions", json={"tool_name": "Grep", "timestamp": at(3)}, headers=bob)
    summary = (await api.get("/api/v1/summary", headers=bob)).json()
    activity = (await api.get("/api/v1/activity", headers=bob)).json()["items"]
    assert summary["tool_executions"] == 1 and [a["name"] for a in activity] == ["Grep"]
    assert (await api.get(f"/api/v1/sessions/{SESSION}", headers=bob)).status_code in (403, 404)


async def test_charlie_reads_none_of_alices_data(api, seeded):
    charlie = bearer(seeded["charlie"])
    summary = (await api.get("/api/v1/summary", headers=charlie)).json()
    tools = (await api.get("/api/v1/stats/tools", headers=charlie)).json()["items"]
    sessions = (await api.get("/api/v1/sessions", headers=charlie)).json()["sessions"]
    activity = (await api.get("/api/v1/activity", headers=charlie)).json()["items"]
    # His one event carries a session id: a session with activity (docs/analytics.md).
    assert (summary["tool_executions"], summary["sessions"], summary["agent_invocations"]) == (1, 1, 0)
    assert [t["name"] for t in tools] == ["Secret"] and sessions == []
    assert [a["name"] for a in activity] == ["Secret"]


async def test_alices_session_is_404_for_charlie_and_his_for_alice(api, seeded):
    hers = await api.get(f"/api/v1/sessions/{SESSION}", headers=bearer(seeded["charlie"]))
    his = await api.get("/api/v1/sessions/charlie-session", headers=bearer(seeded["alice"]))
    assert hers.status_code == 404 and his.status_code == 404
    assert hers.json()["error"] | {"request_id": None} == {
        "code": "not_found", "field": "session_id", "message": f"session_id: no session {SESSION!r}", "request_id": None}


async def test_charlie_cannot_filter_by_alices_team(api, seeded):
    response = await api.get("/api/v1/summary?team=platform", headers=bearer(seeded["charlie"]))
    assert response.status_code == 404 and response.json()["error"]["field"] == "team"


@pytest.mark.parametrize("path,query,field", [
    ("/api/v1/summary", "days=0", "days"),
    ("/api/v1/summary", "days=soon", "days"),
    ("/api/v1/summary", "start=yesterday", "start"),
    ("/api/v1/summary", "start=2025-02-01&end=2025-01-01", "start"),
    ("/api/v1/summary", "dayz=30", "dayz"),
    ("/api/v1/stats/tools", "limit=1000", "limit"),
    ("/api/v1/stats/agents", "end=2025-13-01", "end"),
    ("/api/v1/sessions", "limit=0", "limit"),
    ("/api/v1/activity", "limit=x", "limit"),
    ("/api/v1/activity", "user=", "user"),
])
async def test_bad_query_parameters_are_422_naming_the_parameter(api, keys, path, query, field):
    response = await api.get(f"{path}?{query}", headers=bearer(keys["alice"]))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["field"] == field and error["message"].startswith(f"{field}: ")


async def test_reads_need_a_key_with_the_read_scope(api, store, people):
    ingest_only = await make_key(store, people.org_a, ["ingest"], "alice@a.test")
    anonymous = await api.get("/api/v1/summary?days=0")
    forbidden = await api.get("/api/v1/summary", headers=bearer(ingest_only))
    assert anonymous.status_code == 401  # authentication comes before parameter checks
    assert forbidden.status_code == 403 and "read" in forbidden.json()["error"]["message"]


async def test_a_nul_in_a_path_or_query_is_a_client_error(api, keys, backend):
    """PostgreSQL refuses U+0000 in text: that is the request's fault (422 with the envelope), never a 500."""
    for path in ("/api/v1/sessions/a%00b", "/api/v1/summary?project=a%00b", "/api/v1/stats/tools?user=a%00b"):
        response = await api.get(path, headers=bearer(keys["alice"]))
        if backend.name == "postgres":
            assert response.status_code == 422 and "NUL" in response.json()["error"]["message"], path
        else:  # SQLite stores and compares U+0000 like any character
            assert response.status_code in (200, 404), path


@pytest.mark.parametrize("query, field", [("end=9999-12-31T23:00:00-05:00", "end"), ("start=0001-01-01T00:00:00%2B05:00", "start"),
                                          ("end=0001-01-02T00:00:00Z", "days"), ("end=yesterday", "end")])
async def test_window_bounds_outside_the_calendar_are_field_errors(api, keys, query, field):
    response = await api.get(f"/api/v1/summary?{query}", headers=bearer(keys["alice"]))
    assert response.status_code == 422 and response.json()["error"]["field"] == field
