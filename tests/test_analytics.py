from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fortium_metrics import analytics, orgs, teams
from fortium_metrics.analytics import Filters, Window
from fortium_metrics.errors import NotFound
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal

pytestmark = pytest.mark.anyio
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
async def seeded(store, people):
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Platform")
    ingestor = Ingestor(store)
    at = lambda minutes: (NOW - timedelta(minutes=minutes)).isoformat()  # noqa: E731
    await record_events(ingestor, people.alice, [
        {"type": "session_start", "session_id": "s1", "timestamp": at(60), "team": "platform"},
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": 10, "session_id": "s1", "timestamp": at(50), "team": "platform"},
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": 30, "session_id": "s1", "timestamp": at(49)},
        {"type": "tool_execution", "tool_name": "Bash", "duration_ms": 100, "success": False, "session_id": "s1", "timestamp": at(48)},
        {"type": "agent_invocation", "agent_name": "reviewer", "input_tokens": 100, "output_tokens": 40, "timestamp": at(47)},
        {"type": "token_usage", "model": "m", "input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.5, "timestamp": at(46)},
        {"type": "code_change", "lines_added": 10, "lines_removed": 2, "timestamp": at(45)},
        {"type": "task", "task_name": "t", "status": "completed", "timestamp": at(44)},
        {"type": "tool_execution", "tool_name": "Read", "timestamp": (NOW - timedelta(days=30)).isoformat()},
        {"type": "session_end", "session_id": "s1", "timestamp": at(0)},
    ], "test")
    await record_events(ingestor, people.charlie, [{"type": "tool_execution", "tool_name": "Secret", "timestamp": at(5)}], "test")
    await ingestor.close()
    return people


async def test_productivity_summary_sums_the_window(store, seeded):
    async with store.unit_of_work(seeded.alice) as uow:
        summary = await analytics.productivity_summary(uow, Window.last(7))
    assert (summary.sessions, summary.tool_executions, summary.agent_invocations) == (1, 3, 1)
    assert summary.tool_success_rate == pytest.approx(2 / 3, abs=1e-3)
    assert summary.avg_tool_duration_ms == pytest.approx(140 / 3, abs=0.01)
    # Tokens and cost are those of usage events: the agent invocation's own 100/40 tokens are its
    # subagent's requests, which usage events count (docs/analytics.md).
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (1000, 200, 0.5)
    assert (summary.lines_added, summary.lines_removed, summary.tasks_completed, summary.active_users) == (10, 2, 1, 1)


async def test_summary_filters_by_team(store, seeded):
    async with store.unit_of_work(seeded.alice) as uow:
        summary = await analytics.productivity_summary(uow, Window.last(7), Filters(team="platform"))
        assert (summary.tool_executions, summary.sessions) == (1, 1)
        with pytest.raises(NotFound):
            await analytics.productivity_summary(uow, Window.last(7), Filters(team="nope"))


async def test_tool_and_agent_stats(store, seeded):
    async with store.unit_of_work(seeded.alice) as uow:
        tools = await analytics.named_stats(uow, "tool_execution", Window.last(7))
        agents = await analytics.named_stats(uow, "agent_invocation", Window.last(7))
    assert [(t.name, t.count, t.success_rate, t.max_duration_ms) for t in tools] == [("Read", 2, 1.0, 30.0), ("Bash", 1, 0.0, 100.0)]
    assert (agents[0].name, agents[0].input_tokens) == ("reviewer", 100)


async def test_session_metrics_and_recent_activity(store, seeded):
    async with store.unit_of_work(seeded.alice) as uow:
        metrics = await analytics.session_metrics(uow, "s1")
        recent = await analytics.recent_activity(uow, limit=3)
        with pytest.raises(NotFound):
            await analytics.session_metrics(uow, "nope")
    assert metrics.duration_minutes == 60 and metrics.tool_executions == 3
    assert metrics.tool_success_rate == pytest.approx(0.6667, abs=1e-3)
    assert [r.kind for r in recent] == ["task", "code_change", "token_usage"]


async def test_charlie_sees_only_his_own_numbers(store, seeded):
    async with store.unit_of_work(seeded.charlie) as uow:
        summary = await analytics.productivity_summary(uow, Window.last(7))
        tools = await analytics.named_stats(uow, "tool_execution", Window.last(7))
        with pytest.raises(NotFound):
            await analytics.session_metrics(uow, "s1")
        recent = await analytics.recent_activity(uow)
    assert (summary.tool_executions, summary.sessions, summary.cost_usd) == (1, 0, 0.0)
    assert [t.name for t in tools] == ["Secret"] and [r.name for r in recent] == ["Secret"]


async def _seed_team(store, ingestor_events, people):
    """Platform: Bob lead, Dana member; Eve outside. Each has one tool execution."""
    from fortium_metrics import users as users_service

    async with store.unit_of_work(people.alice) as uow:
        for email in ("dana@a.test", "eve@a.test"):
            await users_service.create_user(uow, email, email[:4].title(), "developer")
        await teams.add_member(uow, "platform", "bob@a.test", "lead")
        await teams.add_member(uow, "platform", "dana@a.test", "member")
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest", "admin", "read"}), "api_key")
    ingestor = Ingestor(store)
    await record_events(ingestor, org_key, [
        {"type": "tool_execution", "tool_name": f"T-{who}", "user": f"{who}@a.test", "team": "platform" if who != "eve" else None,
         "session_id": f"s-{who}", "timestamp": NOW.isoformat()} for who in ("bob", "dana", "eve")], "test")
    await ingestor.close()


async def test_visibility_follows_roles_and_team_leadership(store, seeded):
    from fortium_metrics.errors import Forbidden
    from fortium_metrics.principal import Principal as P
    from sqlalchemy import select as sel
    from fortium_metrics.store.models import User as U

    people = seeded
    await _seed_team(store, None, people)
    async with store.unit_of_work(people.alice) as uow:
        dana = await uow.session.scalar(sel(U.id).where(U.email == "dana@a.test"))
    dana_p = P(people.org_a, dana, "developer", frozenset({"read"}), "user", "dana@a.test")
    week = Window.last(7)

    async def names(principal, **filters):
        async with store.unit_of_work(principal) as uow:
            return {a.name for a in await analytics.recent_activity(uow, 50, Filters(**filters))}

    assert {"T-bob", "T-dana", "T-eve"} <= await names(people.alice)  # admin: everything
    assert await names(dana_p) == {"T-dana"}  # a developer: own rows only
    assert await names(people.bob, user="dana@a.test") == {"T-dana"}  # a lead: their member's rows
    assert await names(people.bob, team="platform") == {"Read", "T-bob", "T-dana"}  # Read: seeded for the team
    with pytest.raises(Forbidden):
        await names(people.bob, user="eve@a.test")  # not in a team Bob leads
    with pytest.raises(Forbidden):
        await names(dana_p, team="platform")  # rows of the team: leads only
    async with store.unit_of_work(dana_p) as uow:  # ...but its anonymous aggregate of 3 people is withheld at 5
        withheld = await analytics.productivity_summary(uow, week, Filters(team="platform"))
    assert withheld.withheld and withheld.tool_executions is None and withheld.cost_usd is None
    async with store.unit_of_work(people.alice) as uow:
        await orgs.update_settings(uow, min_group_size=3)
    async with store.unit_of_work(dana_p) as uow:  # ...and shown at 3
        team_summary = await analytics.productivity_summary(uow, week, Filters(team="platform"))
        with pytest.raises(Forbidden):
            await analytics.productivity_summary(uow, week, Filters(user="bob@a.test"))
        with pytest.raises(Forbidden):
            await analytics.session_metrics(uow, "s-bob")
        assert (await analytics.session_metrics(uow, "s-dana")).tool_executions == 1
    assert team_summary.tool_executions == 3  # Bob, Dana and the seeded team event


async def test_reads_need_the_read_scope(store, seeded):
    from fortium_metrics.errors import Forbidden
    from fortium_metrics.principal import Principal as P

    ingest_only = P(seeded.org_a, seeded.alice.user_id, "admin", frozenset({"ingest"}), "api_key")
    async with store.unit_of_work(ingest_only) as uow:
        with pytest.raises(Forbidden, match="read"):
            await analytics.productivity_summary(uow, Window.last(7))
