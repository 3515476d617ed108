"""The sessions list and one session's timeline (analytics/sessions.py) through the service and
REST: figures from the stored events, search and filters, pages, who may see whose sessions, and
another organisation's session as a 404. Both databases (the `store` fixture)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from rest_support import bearer
from session_support import BOB_SESSION, CHARLIE_SESSION, DANA_SESSION, NOW, team_world
from fortium_metrics import analytics
from fortium_metrics.analytics import SessionSearch
from fortium_metrics.errors import Forbidden, NotFound

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(store, people, keys):
    return await team_world(store, people)


async def _search(store, principal, **given):
    async with store.unit_of_work(principal) as uow:
        return await analytics.search_sessions(uow, SessionSearch(**given))


async def _timeline(store, principal, session_id):
    async with store.unit_of_work(principal) as uow:
        return await analytics.session_timeline(uow, session_id)


async def test_a_session_row_carries_its_figures_from_the_events(store, people, world):
    found = await _search(store, people.alice, user="bob@a.test")
    assert found.total == 1
    row = found.items[0]
    assert (row.id, row.user, row.team, row.project) == (BOB_SESSION, "bob@a.test", "platform", "web")
    assert (row.prompts, row.api_requests, row.errors, row.tool_executions, row.tool_failures) == (2, 2, 1, 3, 1)
    assert row.cost_usd == pytest.approx(1.0) and (row.input_tokens, row.output_tokens) == (110, 55)
    assert row.duration_minutes == 30.0 and row.models == ["claude-opus-4-1", "claude-sonnet-4-5"]


async def test_the_list_is_newest_first_paged_and_searchable(store, people, world):
    first = await _search(store, people.alice, limit=2)
    second = await _search(store, people.alice, limit=2, page=2)
    assert [r.id for r in first.items] == ["erin-session-1", DANA_SESSION] and first.total == 3
    assert [r.id for r in second.items] == [BOB_SESSION]
    assert [r.id for r in (await _search(store, people.alice, q="DANA")).items] == [DANA_SESSION]
    assert [r.id for r in (await _search(store, people.alice, project="api")).items] == [DANA_SESSION]
    assert (await _search(store, people.alice, q="nobody-like-this")).total == 0
    assert (await _search(store, people.alice, q="%")).total == 0  # a wildcard is a character searched for
    window = await _search(store, people.alice, start=NOW - timedelta(minutes=250), end=NOW)
    assert {r.id for r in window.items} == {DANA_SESSION, "erin-session-1"}
    assert {r.id for r in (await _search(store, people.alice, model="claude-opus-4-1")).items} == {
        BOB_SESSION, DANA_SESSION, "erin-session-1"}


async def test_who_sees_whose_sessions(store, people, world):
    bob, dana = world["bob@a.test"], world["dana@a.test"]
    assert [r.id for r in (await _search(store, dana)).items] == [DANA_SESSION]  # a developer: their own
    assert [r.id for r in (await _search(store, bob)).items] == [BOB_SESSION]  # a lead without filter: their own
    team = await _search(store, bob, team="platform")
    assert {r.id for r in team.items} == {BOB_SESSION, DANA_SESSION}  # ... and their team's on asking
    assert [r.id for r in (await _search(store, bob, user="dana@a.test")).items] == [DANA_SESSION]
    with pytest.raises(Forbidden):
        await _search(store, bob, user="erin@a.test")  # not in a team Bob leads
    with pytest.raises(Forbidden):
        await _search(store, dana, team="platform")  # a member sees the team's aggregates, not its sessions
    assert (await _search(store, people.charlie)).total == 2  # Charlie: his own, in org B


async def test_the_timeline_has_every_event_in_order(store, people, world):
    timeline = await _timeline(store, people.alice, BOB_SESSION)
    kinds = [item.kind for item in timeline.items]
    assert kinds == ["prompt", "api_error", "api_request", "tool", "tool", "subagent", "compaction", "prompt",
                     "api_request", "tool"]
    failed = timeline.items[4]
    assert (failed.name, failed.success, failed.duration_ms, failed.error) == ("Bash", False, 900, "ShellError")
    assert timeline.items[1].error == "529 Overloaded"
    request = timeline.items[2]
    assert (request.model, request.input_tokens, request.output_tokens, request.cost_usd) == (
        "claude-sonnet-4-5", 100, 50, 0.25)
    assert timeline.items[5].name == "Explore" and timeline.session.user == "bob@a.test"
    assert not timeline.truncated


async def test_the_timeline_is_for_those_who_may_see_the_session(store, people, world):
    bob, dana, erin = world["bob@a.test"], world["dana@a.test"], world["erin@a.test"]
    assert (await _timeline(store, bob, DANA_SESSION)).session.id == DANA_SESSION  # Dana's lead
    assert (await _timeline(store, dana, DANA_SESSION)).session.user == "dana@a.test"
    with pytest.raises(Forbidden):
        await _timeline(store, dana, BOB_SESSION)
    with pytest.raises(Forbidden):
        await _timeline(store, bob, "erin-session-1")
    with pytest.raises(Forbidden):
        await _timeline(store, erin, DANA_SESSION)
    charlies = await _timeline(store, people.charlie, BOB_SESSION)  # the same id in org B is Charlie's own
    assert charlies.session.user == "charlie@b.test" and charlies.session.project == "secret"
    with pytest.raises(NotFound):
        await _timeline(store, people.charlie, DANA_SESSION)
    with pytest.raises(NotFound):
        await _timeline(store, people.alice, CHARLIE_SESSION)


async def test_rest_lists_and_opens_sessions(api, people, world, keys):
    alice, bob, charlie = bearer(keys["alice"]), bearer(keys["bob"]), bearer(keys["charlie"])
    page = (await api.get("/api/v1/analytics/sessions?limit=2&q=session", headers=alice)).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["items"][0]["id"] == "erin-session-1"
    timeline = await api.get(f"/api/v1/sessions/{DANA_SESSION}/timeline", headers=alice)
    assert timeline.status_code == 200 and timeline.json()["session"]["prompts"] == 2
    assert (await api.get(f"/api/v1/sessions/{DANA_SESSION}/timeline", headers=charlie)).status_code == 404
    assert (await api.get(f"/api/v1/sessions/{DANA_SESSION}/timeline", headers=bob)).status_code == 200
    assert (await api.get("/api/v1/sessions/erin-session-1/timeline", headers=bob)).status_code == 403
    wrong = await api.get("/api/v1/analytics/sessions?limit=0", headers=alice)
    assert wrong.status_code == 422 and "limit" in wrong.json()["error"]["message"]
    unknown = await api.get("/api/v1/analytics/sessions?colour=red", headers=alice)
    assert unknown.status_code == 422 and "colour" in unknown.json()["error"]["message"]
    assert (await api.get("/api/v1/analytics/sessions?team=nope", headers=alice)).status_code == 404


async def test_the_endpoints_are_documented(api):
    spec = (await api.get("/api/v1/openapi.json")).json()
    assert "get" in spec["paths"]["/api/v1/analytics/sessions"]
    assert "get" in spec["paths"]["/api/v1/sessions/{session_id}/timeline"]
