from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fortium_metrics import analytics, teams
from fortium_metrics.analytics import Filters, Window
from fortium_metrics.errors import NotFound
from fortium_metrics.ingest import Ingestor, record_events

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
    assert (summary.input_tokens, summary.output_tokens, summary.cost_usd) == (1100, 240, 0.5)
    assert (summary.lines_added, summary.lines_removed, summary.tasks_completed, summary.active_users) == (10, 2, 1, 1)


async def test_summary_filters_by_team(store, seeded):
    async with store.unit_of_work(seeded.alice) as uow:
        summary = await analytics.productivity_summary(uow, Window.last(7), Filters(team="platform"))
        assert (summary.tool_executions, summary.sessions) == (1, 1)
        with pytest.raises(NotFound):
            await analytics.productivity_summary(uow, Window.last(7), Filters(team="nope"))


async def test_tool_and_agent_stats(store, seeded):
    async with store.unit_of_work(seeded.bob) as uow:
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
