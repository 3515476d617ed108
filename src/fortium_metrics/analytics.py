"""Read-side services: summaries and statistics over the caller's organisation.

Every query goes through the unit of work, so the tenant filter (and RLS) applies; filters for
team/user/project are resolved inside the organisation (an unknown one is NotFound).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, Field
from sqlalchemy import Integer, case, cast, func, select

from .errors import Invalid, NotFound
from .events import as_utc
from .lookup import find_one
from .permissions import scope_filters
from .store.models import AgentSession, MetricEvent, Project, Team, User
from .store.uow import UnitOfWork


class Window(BaseModel):
    start: datetime
    end: datetime

    @classmethod
    def last(cls, days: int = 7, now: datetime | None = None) -> "Window":
        if not 1 <= days <= 366:
            raise Invalid("days: must be between 1 and 366", field="days")
        end = now or datetime.now(timezone.utc)
        return cls(start=end - timedelta(days=days), end=end)

    @classmethod
    def parse(cls, start: str | None, end: str | None, days: int = 7) -> "Window":
        if not start and not end:
            return cls.last(days)
        parsed_end = _instant(end, "end") if end else datetime.now(timezone.utc)
        try:
            parsed_start = _instant(start, "start") if start else parsed_end - timedelta(days=days)
        except OverflowError:  # `days` before the first day of the calendar
            raise Invalid("days: the window would start before the year 1", field="days") from None
        if parsed_start >= parsed_end:
            raise Invalid("start: must be before end", field="start")
        return cls(start=parsed_start, end=parsed_end)


def _instant(text: str, field: str) -> datetime:
    """An ISO 8601 query value as a UTC instant (no offset means UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise Invalid(f"{field}: not an ISO 8601 date or time ({error})", field=field) from None
    try:
        return as_utc(value)
    except ValueError as error:  # 0001-01-01T00:00+05:00 is before the year 1 in UTC
        raise Invalid(f"{field}: {error}", field=field) from None


class Filters(BaseModel):
    team: str | None = None
    user: str | None = None
    project: str | None = None


class ProductivitySummary(BaseModel):
    start: datetime
    end: datetime
    sessions: int = Field(description="Sessions started in the window.")
    active_users: int
    tool_executions: int
    tool_success_rate: float | None = Field(description="0..1; None without executions.")
    avg_tool_duration_ms: float | None
    agent_invocations: int
    commands: int
    tasks_completed: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    lines_added: int
    lines_removed: int


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


async def _conditions(uow: UnitOfWork, window: Window, filters: Filters, individual: bool = False) -> list:
    """Time window plus filters, narrowed by what the principal may read (permissions.py)."""
    conditions = [MetricEvent.occurred_at >= window.start, MetricEvent.occurred_at < window.end]
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


async def _find(uow: UnitOfWork, model, ref: str, natural_key, field: str) -> uuid.UUID:
    return (await find_one(uow, model, ref, natural_key, field)).id


def _rate(successes, total) -> float | None:
    return round(successes / total, 4) if total else None


async def productivity_summary(uow: UnitOfWork, window: Window, filters: Filters = Filters()) -> ProductivitySummary:
    conditions = await _conditions(uow, window, filters)
    ok = cast(case((MetricEvent.success.is_(True), 1), else_=0), Integer)
    rows = (await uow.session.execute(
        select(MetricEvent.kind, func.count(), func.sum(ok), func.avg(MetricEvent.duration_ms),
               func.coalesce(func.sum(MetricEvent.input_tokens), 0), func.coalesce(func.sum(MetricEvent.output_tokens), 0),
               func.coalesce(func.sum(MetricEvent.cost_usd), 0.0), func.coalesce(func.sum(MetricEvent.lines_added), 0),
               func.coalesce(func.sum(MetricEvent.lines_removed), 0))
        .where(*conditions).group_by(MetricEvent.kind))).all()
    by_kind = {row[0]: row[1:] for row in rows}
    tools = by_kind.get("tool_execution", (0, 0, None) + (0,) * 5)
    users = await uow.session.scalar(select(func.count(func.distinct(MetricEvent.user_id))).where(*conditions))
    sessions = await uow.session.scalar(
        select(func.count()).select_from(AgentSession)
        .where(AgentSession.started_at >= window.start, AgentSession.started_at < window.end,
               *_session_filters(conditions)))
    total = lambda i: sum(int(v[i] or 0) for v in by_kind.values())  # noqa: E731
    tasks = by_kind.get("task", (0, 0))
    return ProductivitySummary(
        start=window.start, end=window.end, sessions=sessions or 0, active_users=users or 0,
        tool_executions=tools[0], tool_success_rate=_rate(tools[1] or 0, tools[0]),
        avg_tool_duration_ms=round(tools[2], 2) if tools[2] is not None else None,
        agent_invocations=by_kind.get("agent_invocation", (0,))[0], commands=by_kind.get("command", (0,))[0],
        tasks_completed=int(tasks[1] or 0), input_tokens=total(3), output_tokens=total(4),
        cost_usd=round(sum(float(v[5] or 0) for v in by_kind.values()), 6), lines_added=total(6), lines_removed=total(7),
    )


def _session_filters(event_conditions: list) -> list:
    """The team/user/project filters, re-targeted at the sessions table."""
    mapped = []
    for condition in event_conditions[2:]:
        column = getattr(AgentSession, condition.left.key)
        mapped.append(column == condition.right)
    return mapped


async def named_stats(uow: UnitOfWork, kind: str, window: Window, filters: Filters = Filters(),
                      limit: int = 20) -> list[NamedStat]:
    """Per tool (kind=tool_execution) or per agent (kind=agent_invocation), busiest first."""
    conditions = await _conditions(uow, window, filters)
    ok = cast(case((MetricEvent.success.is_(True), 1), else_=0), Integer)
    rows = (await uow.session.execute(
        select(MetricEvent.name, func.count().label("n"), func.sum(ok), func.avg(MetricEvent.duration_ms),
               func.max(MetricEvent.duration_ms), func.coalesce(func.sum(MetricEvent.input_tokens), 0),
               func.coalesce(func.sum(MetricEvent.output_tokens), 0))
        .where(MetricEvent.kind == kind, *conditions)
        .group_by(MetricEvent.name).order_by(func.count().desc(), MetricEvent.name).limit(limit))).all()
    return [NamedStat(name=name or "(unnamed)", count=n, success_rate=_rate(ok_count or 0, n),
                      avg_duration_ms=round(avg, 2) if avg is not None else None, max_duration_ms=mx,
                      input_tokens=tin, output_tokens=tout)
            for name, n, ok_count, avg, mx, tin, tout in rows]


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
    conditions = (await _conditions(uow, Window(start=datetime(1970, 1, 1, tzinfo=timezone.utc),
                                                 end=datetime(9999, 1, 1, tzinfo=timezone.utc)), filters, individual=True))
    rows = await uow.session.scalars(select(MetricEvent).where(*conditions).order_by(MetricEvent.occurred_at.desc()).limit(limit))
    return [ActivityItem(occurred_at=e.occurred_at, kind=e.kind, name=e.name, user_id=e.user_id,
                         session_id=e.session_id, success=e.success, duration_ms=e.duration_ms) for e in rows]
