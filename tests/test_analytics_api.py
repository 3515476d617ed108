"""The analytics query model through REST, MCP and the service: the fixtures' figures come out of
it (tests/fixtures/EXPECTED.md §2 and §3), every error names its parameter, time is local to the
organisation, unknown outcomes stay out of rates, and who sees what holds (Alice/Bob/Charlie)."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from mcp import Client

from fixture_paths import OTLP, TRANSCRIPTS
from rest_support import bearer
from fortium_metrics import analytics, orgs, teams, users
from fortium_metrics.analytics import AnalyticsQuery
from fortium_metrics.analytics.rollups import rebuild
from fortium_metrics.errors import Forbidden
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal

pytestmark = pytest.mark.anyio
OTLP_DAY = "start=2026-02-03T00:00:00Z&end=2026-02-04T00:00:00Z"


async def _post_otlp(api, key: str) -> None:
    for path, name in (("/v1/metrics", "metrics.json"), ("/v1/logs", "logs.json")):
        response = await api.post(path, content=(OTLP / name).read_bytes(),
                                   headers={"Content-Type": "application/json", **bearer(key)})
        assert response.status_code == 200


async def test_the_otlp_fixture_gives_its_expected_figures(api, keys):
    await _post_otlp(api, keys["alice"])
    measures = ("input_tokens,output_tokens,cache_read_tokens,cache_creation_tokens,cache_creation_tokens_unsplit,"
                "cost_usd,lines_added,lines_removed,"
                "commits,pull_requests,active_time_user_s,active_time_cli_s,prompts,api_requests,api_errors,"
                "tool_executions,tool_success_rate,edit_decisions,edit_accept_rate,sessions,active_users")
    body = (await api.get(f"/api/v1/analytics?measures={measures}&{OTLP_DAY}", headers=bearer(keys["alice"]))).json()
    assert body["totals"] == {
        "input_tokens": 39, "output_tokens": 1064, "cache_read_tokens": 100660, "cache_creation_tokens": 11620,
        "cache_creation_tokens_unsplit": 11620,  # telemetry has no 5-minute / 1-hour split
        "cost_usd": 0.07342, "lines_added": 24, "lines_removed": 7, "commits": 1, "pull_requests": 0,
        "active_time_user_s": 21.5, "active_time_cli_s": 48.2, "prompts": 1, "api_requests": 6, "api_errors": 1,
        "tool_executions": 3, "tool_success_rate": 1.0, "edit_decisions": 2, "edit_accept_rate": 0.5,
        "sessions": 1, "active_users": 1}
    by_model = (await api.get(f"/api/v1/analytics?measures=cost_usd,output_tokens&group_by=model&{OTLP_DAY}",
                              headers=bearer(keys["alice"]))).json()["rows"]
    costs = {r["model"]: r["cost_usd"] for r in by_model if r["output_tokens"]}
    assert costs == {"claude-sonnet-4-5-20250929": 0.065205, "claude-haiku-4-5-20251001": 0.008215}


async def test_cost_by_agent_and_by_the_sources_own_labels(api, keys):
    await _post_otlp(api, keys["alice"])
    agents = (await api.get(f"/api/v1/analytics?measures=cost_usd&group_by=agent&{OTLP_DAY}",
                            headers=bearer(keys["alice"]))).json()["rows"]
    assert {r["agent"]: r["cost_usd"] for r in agents if r["cost_usd"]} == {None: 0.065205, "Explore": 0.008215}
    labels = (await api.get(f"/api/v1/analytics?measures=api_requests&group_by=department,cost_center&{OTLP_DAY}",
                            headers=bearer(keys["alice"]))).json()["rows"]
    assert [(r["department"], r["cost_center"], r["api_requests"]) for r in labels if r["api_requests"]] == [
        ("engineering", "eng-123", 6)]


async def test_transcripts_give_cost_and_tokens_per_model(store, people, sink):
    from fortium_metrics.importers.runner import run_import
    from fortium_metrics.importers.transcripts import TranscriptParser

    await run_import(TranscriptParser(home=TRANSCRIPTS), [TRANSCRIPTS], sink, user="alice@a.test")
    q = AnalyticsQuery(measures=["cost_usd", "output_tokens", "cache_creation_tokens", "cache_creation_tokens_1h",
                                 "cache_read_tokens", "api_requests", "prompts", "sessions"], group_by=["model"],
                       start=datetime(2025, 8, 1, tzinfo=timezone.utc), end=datetime(2026, 2, 1, tzinfo=timezone.utc))
    async with store.unit_of_work(people.alice) as uow:
        result = await analytics.query(uow, q)
    costs = {r["model"]: r["cost_usd"] for r in result.rows if r["api_requests"]}
    assert costs == {"claude-sonnet-4-20250514": 0.103449, "claude-3-5-haiku-20241022": 0.005439,
                     "claude-sonnet-4-5-20250929": 0.158949, "claude-haiku-4-5-20251001": 0.009933}
    totals = result.totals
    assert (totals["api_requests"], totals["prompts"], totals["sessions"], totals["output_tokens"]) == (18, 4, 2, 2742)
    assert (totals["cache_creation_tokens"], totals["cache_creation_tokens_1h"], totals["cache_read_tokens"]) == (
        23470 + 14380, 14380, 322790)
    assert totals["cost_usd"] == 0.27777


async def test_csv_has_the_rows_and_a_header(api, keys):
    await _post_otlp(api, keys["alice"])
    response = await api.get(f"/api/v1/analytics?measures=api_requests,cost_usd&group_by=model&format=csv&{OTLP_DAY}",
                             headers=bearer(keys["alice"]))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["model", "api_requests", "cost_usd"]
    assert {r["model"]: (int(r["api_requests"]), float(r["cost_usd"])) for r in rows if r["model"]} == {
        "claude-sonnet-4-5-20250929": (5, 0.065205), "claude-haiku-4-5-20251001": (1, 0.008215)}


@pytest.mark.parametrize("query, field, words", [
    ("measures=cost_usd,happiness", "measures", "unknown 'happiness'"),
    ("measures=cost_usd&group_by=weather", "group_by", "unknown dimension 'weather'"),
    ("measures=cost_usd&group_by=day,week", "group_by", "at most one of hour, day, week, month"),
    ("measures=cost_usd&team=nope", "team", "no team 'nope'"),
    ("measures=cost_usd&day=2026-01-01", "day", "time is chosen with start, end or days"),
    ("measures=cost_usd&start=2026-02-02&end=2026-02-01", "start", "must not be after end"),
    ("measures=cost_usd&order_by=-sessions", "order_by", "'sessions' is not among"),
    ("measures=cost_usd&limit=0", "limit", "greater than or equal to 1"),
    ("measures=cost_usd&granularity=fortnight", "granularity", "Input should be"),
])
async def test_every_bad_parameter_is_named(api, keys, query, field, words):
    response = await api.get(f"/api/v1/analytics?{query}", headers=bearer(keys["alice"]))
    error = response.json()["error"]
    assert response.status_code in (404, 422) and error["field"] == field and words in error["message"], error


async def test_days_are_local_to_the_organisations_time_zone_and_survive_a_change(store, people):
    ingestor = Ingestor(store)
    late_evening = {"type": "token_usage", "model": "m", "cost_usd": 2.0, "timestamp": "2026-11-20T05:00:00Z"}
    await record_events(ingestor, people.alice, [late_evening], "test")
    await ingestor.close()
    q = AnalyticsQuery(measures=["cost_usd"], group_by=["day"], start=datetime(2026, 11, 18, tzinfo=timezone.utc),
                       end=datetime(2026, 11, 22, tzinfo=timezone.utc))

    async def days() -> tuple[dict, dict]:
        async with store.unit_of_work(people.alice) as uow:
            result = await analytics.query(uow, q)
        return {r["day"]: r["cost_usd"] for r in result.rows if r["cost_usd"]}, result.sources

    assert await days() == ({"2026-11-20": 2.0}, {"sum": "rollup_daily_lite"})
    async with store.unit_of_work(people.alice) as uow:
        await orgs.update_settings(uow, timezone="America/Los_Angeles")
    assert await days() == ({"2026-11-19": 2.0}, {"sum": "metric_events"})  # stale rollups: the events answer
    # The database may hold other tests' organisations (PostgreSQL): only this one's figures count.
    assert (await rebuild(store)).get(people.org_a) == 1
    assert await days() == ({"2026-11-19": 2.0}, {"sum": "rollup_daily_lite"})
    assert people.org_a not in await rebuild(store)  # nothing stale any more


async def test_unknown_outcomes_count_in_no_rate(store, people):
    ingestor = Ingestor(store)
    await record_events(ingestor, people.alice, [
        {"type": "agent_invocation", "agent_name": "Explore", "success": None, "event_id": "a1"},
        {"type": "agent_invocation", "agent_name": "Explore", "success": True, "event_id": "a2"},
        {"type": "tool_execution", "tool_name": "Bash", "success": None, "event_id": "t1"},
        {"type": "tool_execution", "tool_name": "Bash", "success": False, "event_id": "t2"},
        {"type": "tool_execution", "tool_name": "Bash", "success": True, "event_id": "t3"}], "test")
    await ingestor.close()
    async with store.unit_of_work(people.alice) as uow:
        totals = (await analytics.query(uow, AnalyticsQuery(measures=[
            "agent_invocations", "agent_success_rate", "tool_executions", "tool_success_rate"], days=2))).totals
    assert totals == {"agent_invocations": 2, "agent_success_rate": 1.0, "tool_executions": 3, "tool_success_rate": 0.5}


async def _team_world(store, people):
    """Platform: Bob (lead), Dana, Eve; Frank outside. Each made one request costing 1 USD."""
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Platform")
        for email in ("dana@a.test", "eve@a.test", "frank@a.test"):
            await users.create_user(uow, email, email[:4], "developer")
        for email, role in (("bob@a.test", "lead"), ("dana@a.test", "member"), ("eve@a.test", "member")):
            await teams.add_member(uow, "platform", email, role)
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest", "read", "admin"}), "api_key")
    ingestor = Ingestor(store)
    await record_events(ingestor, org_key, [
        {"type": "token_usage", "model": "m", "cost_usd": 1.0, "user": who, "event_id": who}
        for who in ("bob@a.test", "dana@a.test", "eve@a.test", "frank@a.test")], "test")
    await ingestor.close()
    async with store.unit_of_work(people.alice) as uow:
        return {u.email: Principal(people.org_a, u.id, u.role, frozenset({"read"}), "user", u.email)
                for u in await users.list_users(uow)}


async def _totals(store, principal, **kwargs):
    async with store.unit_of_work(principal) as uow:
        return await analytics.query(uow, AnalyticsQuery(days=2, **kwargs))


async def test_who_sees_what(store, people):
    by = await _team_world(store, people)
    platform = {"team": ["platform"]}
    everyone = await _totals(store, people.alice, measures=["cost_usd", "active_users"])
    assert everyone.totals == {"cost_usd": 4.0, "active_users": 4}  # an admin: everything
    own = await _totals(store, by["dana@a.test"], measures=["cost_usd"])
    assert own.totals == {"cost_usd": 1.0}  # a developer without filters: their own data
    lead = await _totals(store, by["bob@a.test"], measures=["cost_usd"], filters=platform, group_by=["user"])
    assert {r["user"]: r["cost_usd"] for r in lead.rows} == {"bob@a.test": 1.0, "dana@a.test": 1.0, "eve@a.test": 1.0}
    member = await _totals(store, by["dana@a.test"], measures=["cost_usd"], filters=platform)
    assert member.anonymised and member.totals == {"cost_usd": None, "withheld": True}  # 3 people < 5
    async with store.unit_of_work(people.alice) as uow:
        await orgs.update_settings(uow, min_group_size=3)
    member = await _totals(store, by["dana@a.test"], measures=["cost_usd"], filters=platform)
    assert member.totals == {"cost_usd": 3.0}
    with pytest.raises(Forbidden, match="single people"):
        await _totals(store, by["dana@a.test"], measures=["cost_usd"], filters=platform, group_by=["user"])
    with pytest.raises(Forbidden):
        await _totals(store, by["dana@a.test"], measures=["cost_usd"], filters={"user": ["eve@a.test"]})
    with pytest.raises(Forbidden):
        await _totals(store, by["frank@a.test"], measures=["cost_usd"], filters=platform)


async def test_charlie_sees_nothing_of_organisation_a_through_rest_and_mcp(api, app, keys, store, people):
    await _post_otlp(api, keys["alice"])
    body = (await api.get(f"/api/v1/analytics?measures=api_requests,cost_usd&group_by=user&{OTLP_DAY}",
                          headers=bearer(keys["charlie"]))).json()
    assert body["totals"] == {"api_requests": 0, "cost_usd": 0.0} and body["rows"] == []
    assert (await api.get(f"/api/v1/analytics?team=platform&{OTLP_DAY}", headers=bearer(keys["charlie"]))).status_code == 404
    from fortium_metrics.mcp.server import build_mcp

    async with Client(build_mcp(app.state.ctx, people.charlie)) as client:
        result = await client.call_tool("query_metrics", {"measures": ["api_requests"], "start": "2026-02-03",
                                                          "end": "2026-02-04"})
    assert result.structured_content["totals"] == {"api_requests": 0}


async def test_the_mcp_tool_answers_cost_by_model(app, api, keys, people):
    await _post_otlp(api, keys["alice"])
    from fortium_metrics.mcp.server import build_mcp

    async with Client(build_mcp(app.state.ctx, people.alice)) as client:
        result = await client.call_tool("query_metrics", {"measures": ["cost_usd"], "group_by": ["model"],
                                                          "start": "2026-02-03", "end": "2026-02-04",
                                                          "order_by": ["-cost_usd"], "limit": 1})
        wrong = await client.call_tool("query_metrics", {"measures": ["vibes"]})
    assert result.structured_content["rows"] == [{"model": "claude-sonnet-4-5-20250929", "cost_usd": 0.065205}]
    assert wrong.is_error and "unknown 'vibes'" in wrong.content[0].text


async def test_trends_forecast_and_team_standing(store, people):
    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    ingestor = Ingestor(store)
    await record_events(ingestor, people.alice, [
        {"type": "token_usage", "model": "m", "cost_usd": 1.0, "timestamp": (now - timedelta(days=d)).isoformat()}
        for d in range(40)], "test")
    await ingestor.close()
    from fortium_metrics.analytics import trends

    async with store.unit_of_work(people.alice) as uow:
        (cost,) = await trends.forecast(uow, ["cost_usd"], now=now)
        series = await trends.trend(uow, "cost_usd", days=14, now=now)
    # 20 days of November so far at 1 USD a day, 10 days left at the basis' mean of 1: 30, no spread.
    assert (cost.to_date, cost.forecast, cost.low, cost.high, cost.days_left) == (20.0, 30.0, 30.0, 30.0, 10)
    assert series.total == series.previous_total and series.change == 0.0
    assert [p.rolling_mean for p in series.points][-1] == 1.0 and len(series.weekdays) == 7


async def test_teams_ranked_and_adoption_per_week(store, people):
    from fortium_metrics.analytics import trends

    await _team_world(store, people)
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Mobile")
        await teams.add_member(uow, "mobile", "frank@a.test", "member")
    # Frank joined Mobile after his request: it stays with no team (an event counts for the team its
    # person was in when it was recorded), so Mobile has nothing yet.
    async with store.unit_of_work(people.alice) as uow:
        standing = await trends.compare_teams(uow, ["cost_usd", "active_users"], days=2)
        adoption = await trends.adoption(uow, weeks=1)
    assert [(s.team, s.values["cost_usd"], s.ranks["cost_usd"], s.percentiles["cost_usd"]) for s in standing] == [
        ("platform", 3.0, 1, 1.0)]
    assert [(a.team, a.active, a.members, a.share) for a in adoption] == [("platform", 3, 3, 1.0)]


def test_the_analytics_document_is_current():
    from pathlib import Path

    from fortium_metrics.analytics.doc import render

    document = Path(__file__).resolve().parents[1] / "docs" / "analytics.md"
    assert document.read_text() == render(), "run: python -m fortium_metrics.analytics.doc > docs/analytics.md"
