"""The summaries the first API offered (REST /api/v1/summary and /stats, the MCP summary tools),
now answered by the analytics query model (query.py), plus the per-session and recent-activity
reads, which list rows rather than aggregate them.

Every read goes through the unit of work, so the tenant filter (and RLS) applies; filters for
team/user/project are resolved inside the organisation (an unknown one is NotFound).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, Field
from sqlalchemy import Integer, case, cast, func, select

from ..errors import Invalid, NotFound
from ..lookup import find_one
from ..permissions import scope_filters
from ..store.models import AgentSession, MetricEvent, Project, Team, User
from ..store.uow import UnitOfWork
from .query import AnalyticsQuery, query
from .window import Window


class Filters(BaseModel):
    team: str | None = None
    user: str | None = None
    project: str | None = None


class ProductivitySummary(BaseModel):
    """Totals of a window (see docs/analytics.md for each formula). Every figure is null when the
    reader sees a team's anonymised aggregate and it was made from too few people (`withheld`)."""

    start: datetime
    end: datetime
    sessions: int | None = Field(description="Sessions with activity in the window.")
    active_users: int | None
    tool_executions: int | None
    tool_success_rate: float | None = Field(description="0..1; None without executions of known outcome.")
    avg_tool_duration_ms: float | None
    agent_invocations: int | None
    commands: int | None
    tasks_completed: int | None
    input_tokens: int | None = Field(description="Of API requests and token-usage reports.")
    output_tokens: int | None
    cost_usd: float | None
    lines_added: int | None
    lines_removed: int | None
    withheld: bool = Field(False, description="A team aggregate of fewer people than the minimum group size.")


class NamedStat(BaseModel):
    name: str
    count: int
    success_rate: float | None
    avg_duration_ms: float | None
    max_duration_ms: float | None
    input_tokens: int = 0
    output_tokens: int = 0


class SessionMetrics(BaseModel):
    session_id: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_minutes: float | None
    events: dict[str, int]
    tool_executions: int
    tool_success_rate: float | None


class ActivityItem(BaseModel):
    occurred_at: datetime
    kind: str
    name: str | None
    user_id: uuid.UUID | None
    session_id: str | None
    success: bool | None
    duration_ms: float | None


def _query_filters(filters: Filters) -> dict[str, list[str]]:
    return {name: [value] for name, value in filters.model_dump().items() if value}


_SUMMARY = {"sessions": "sessions", "active_users": "active_users", "tool_executions": "tool_executions",
            "tool_success_rate": "tool_success_rate", "avg_tool_duration_ms": "tool_duration_avg_ms",
            "agent_invocations": "agent_invocations", "commands": "commands", "tasks_completed": "tasks_completed",
            "input_tokens": "input_tokens", "output_tokens": "output_tokens", "cost_usd": "cost_usd",
            "lines_added": "lines_added", "lines_removed": "lines_removed"}


async def productivity_summary(uow: UnitOfWork, window: Window, filters: Filters = Filters()) -> ProductivitySummary:
    result = await query(uow, AnalyticsQuery(measures=list(_SUMMARY.values()), filters=_query_filters(filters),
                                             start=window.start, end=window.end))
    totals = result.totals
    return ProductivitySummary(start=window.start, end=window.end, withheld=bool(totals.get("withheld")),
                               **{field: totals[measure] for field, measure in _SUMMARY.items()})


_NAMED = {
    "tool_execution": ("tool", ("tool_executions", "tool_success_rate", "tool_duration_avg_ms", "tool_duration_max_ms")),
    "agent_invocation": ("agent", ("agent_invocations", "agent_success_rate", "agent_duration_avg_ms",
                                   "agent_duration_max_ms")),
}


async def named_stats(uow: UnitOfWork, kind: str, window: Window, filters: Filters = Filters(),
                      limit: int = 20) -> list[NamedStat]:
    """Per tool (kind=tool_execution) or per agent (kind=agent_invocation), busiest first."""
    dimension, measures = _NAMED[kind]
    result = await query(uow, AnalyticsQuery(
        measures=list(measures), group_by=[dimension], filters=_query_filters(filters), start=window.start,
        end=window.end, order_by=[f"-{measures[0]}", dimension], limit=limit + 1))
    rows = [r for r in result.rows if r[dimension] and r[measures[0]]][:limit]  # events of other kinds: no name
    tokens = await _agent_tokens(uow, window, filters, [r[dimension] for r in rows]) if kind == "agent_invocation" else {}
    return [NamedStat(name=r[dimension], count=r[measures[0]], success_rate=r[measures[1]], avg_duration_ms=r[measures[2]],
                      max_duration_ms=r[measures[3]] if r[measures[2]] is not None else None,
                      input_tokens=tokens.get(r[dimension], (0, 0))[0], output_tokens=tokens.get(r[dimension], (0, 0))[1])
            for r in rows]


async def _agent_tokens(uow: UnitOfWork, window: Window, filters: Filters, names: list[str]) -> dict[str, tuple[int, int]]:
    """The tokens reported with the invocations themselves (MCP record_agent_invocation)."""
    if not names:
        return {}
    result = await query(uow, AnalyticsQuery(
        measures=["agent_input_tokens", "agent_output_tokens"], group_by=["agent"],
        filters={**_query_filters(filters), "agent": names}, start=window.start, end=window.end))
    return {r["agent"]: (r["agent_input_tokens"], r["agent_output_tokens"]) for r in result.rows}


async def _find(uow: UnitOfWork, model, ref: str, natural_key, field: str) -> uuid.UUID:
    return (await find_one(uow, model, ref, natural_key, field)).id


async def _conditions(uow: UnitOfWork, filters: Filters, individual: bool) -> list:
    """Filters narrowed by what the principal may read (permissions.py), for row-level reads."""
    conditions = []
    team_id = await _find(uow, Team, filters.team, Team.slug, "team") if filters.team else None
    user_id = await _find(uow, User, filters.user.lower(), User.email, "user") if filters.user else None
    scope = await scope_filters(uow, user_id, team_id, individual)
    if scope.team_id is not None:
        conditions.append(MetricEvent.team_id == scope.team_id)
    if scope.user_id is not None:
        conditions.append(MetricEvent.user_id == scope.user_id)
    if filters.project:
        conditions.append(MetricEvent.project_id == await _find(uow, Project, filters.project, Project.name, "project"))
    return conditions


def _rate(successes, total) -> float | None:
    return round(successes / total, 4) if total else None


async def session_metrics(uow: UnitOfWork, session_id: str) -> SessionMetrics:
    session = await uow.session.scalar(select(AgentSession).where(AgentSession.id == session_id))
    owner = session.user_id if session is not None else await uow.session.scalar(
        select(MetricEvent.user_id).where(MetricEvent.session_id == session_id).limit(1))
    await scope_filters(uow, owner, None, individual=True)
    counts = dict((await uow.session.execute(
        select(MetricEvent.kind, func.count()).where(MetricEvent.session_id == session_id).group_by(MetricEvent.kind))).all())
    if session is None and not counts:
        raise NotFound(f"session_id: no session {session_id!r}", field="session_id")
    ok = cast(case((MetricEvent.success.is_(True), 1), else_=0), Integer)
    successes = await uow.session.scalar(
        select(func.coalesce(func.sum(ok), 0)).where(MetricEvent.session_id == session_id, MetricEvent.kind == "tool_execution"))
    started, ended = (session.started_at, session.ended_at) if session else (None, None)
    duration = round((ended - started).total_seconds() / 60, 2) if started and ended else None
    tools = counts.get("tool_execution", 0)
    return SessionMetrics(session_id=session_id, started_at=started, ended_at=ended, duration_minutes=duration,
                          events=counts, tool_executions=tools, tool_success_rate=_rate(successes, tools))


async def recent_sessions(uow: UnitOfWork, limit: int = 10) -> list[SessionMetrics]:
    scope = await scope_filters(uow, None, None, individual=True)
    query = select(AgentSession.id).order_by(AgentSession.started_at.desc()).limit(limit)
    if scope.user_id is not None:
        query = query.where(AgentSession.user_id == scope.user_id)
    ids = list(await uow.session.scalars(query))
    return [await session_metrics(uow, session_id) for session_id in ids]


async def recent_activity(uow: UnitOfWork, limit: int = 20, filters: Filters = Filters()) -> list[ActivityItem]:
    if not 1 <= limit <= 200:
        raise Invalid("limit: must be between 1 and 200", field="limit")
    conditions = await _conditions(uow, filters, individual=True)
    rows = await uow.session.scalars(select(MetricEvent).where(*conditions).order_by(MetricEvent.occurred_at.desc()).limit(limit))
    return [ActivityItem(occurred_at=e.occurred_at, kind=e.kind, name=e.name, user_id=e.user_id,
                         session_id=e.session_id, success=e.success, duration_ms=e.duration_ms) for e in rows]
