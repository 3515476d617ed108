"""Sessions as rows: the searchable list (who, project, start, duration, prompts, cost, tools) and
one session's timeline (prompts, API requests with tokens and cost, tool calls with outcome and
duration, subagents, errors, compactions), read from the stored events.

These list rows rather than aggregate them, so they read `sessions` and `metric_events` directly
(like `summaries.session_metrics`); the per-session figures use the catalogue's definitions (cost
and tokens from API requests and token-usage reports). Who may see whose sessions is
`permissions.scope_filters` with `individual=True`: managers and admins every session, a lead the
sessions of the teams they lead and their members, everyone else their own. Another
organisation's session is not found (the unit of work's tenant filter).
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Float, Integer, and_, case, cast, func, or_, select

from ..errors import Invalid, NotFound
from ..lookup import find_one
from ..pagination import MAX_LIMIT
from ..permissions import scope_filters
from ..store.models import AgentSession, MetricEvent, Project, Team, User
from ..store.uow import UnitOfWork
from .catalogue import COMPACTIONS, USAGE

TIMELINE_LIMIT = 5000  # events shown of one session; a longer one says it was cut


class SessionSearch(BaseModel):
    """What the list is asked for (REST query parameters, the sessions page's filter bar)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    q: str | None = Field(None, max_length=200, description="Part of the session id, the person's name or e-mail, "
                                                           "or the project's name (case-insensitive).")
    team: str | None = Field(None, min_length=1, max_length=64, description="Team slug or id.")
    user: str | None = Field(None, min_length=1, max_length=320, description="User e-mail or id.")
    project: str | None = Field(None, min_length=1, max_length=200, description="Project name or id.")
    model: str | None = Field(None, min_length=1, max_length=100, description="Sessions that used this model.")
    start: datetime | None = Field(None, description="Sessions started at or after (ISO 8601; no offset means UTC).")
    end: datetime | None = Field(None, description="Sessions started before (exclusive).")
    page: int = Field(1, ge=1, le=10**9, description="Page number, from 1.")
    limit: int = Field(25, ge=1, le=MAX_LIMIT, description="Sessions per page, most recently started first.")


class SessionRow(BaseModel):
    id: str
    user: str | None = Field(description="The person's e-mail.")
    user_name: str | None
    team: str | None = Field(description="Team slug.")
    project: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_minutes: float | None = Field(description="From the start to the end, else to the last event.")
    prompts: int
    api_requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    tool_executions: int
    tool_failures: int
    errors: int = Field(description="Failed API requests.")
    models: list[str]


class SessionPage(BaseModel):
    items: list[SessionRow]
    page: int
    limit: int
    total: int


TimelineKind = Literal["prompt", "api_request", "api_error", "tool", "decision", "subagent", "command", "compaction",
                       "code_change", "other"]


class TimelineItem(BaseModel):
    at: datetime
    kind: TimelineKind
    event_kind: str = Field(description="The stored event's kind (docs/analytics.md).")
    name: str | None = Field(description="Tool, subagent, command or model; the event's own name otherwise.")
    success: bool | None
    duration_ms: float | None
    model: str | None
    agent: str | None = Field(description="The subagent that made this request or tool call, if any.")
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    cost_usd: float | None
    lines_added: int | None
    lines_removed: int | None
    error: str | None = Field(description="The error reported with a failed request or tool call.")


class SessionTimeline(BaseModel):
    session: SessionRow
    items: list[TimelineItem]
    truncated: bool = Field(False, description=f"The session has more than {TIMELINE_LIMIT} events; the first are shown.")


# -- the per-session figures, one grouped read for a page of sessions ---------------------------
def _count(condition) -> object:
    return func.coalesce(func.sum(cast(case((condition, 1), else_=0), Integer)), 0)


def _sum_where(condition, column) -> object:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


_SPEND = MetricEvent.kind.in_(USAGE)
_FIGURES = {
    "prompts": _count(MetricEvent.kind == "prompt"),
    "api_requests": _count(MetricEvent.kind == "api_request"),
    "input_tokens": _sum_where(_SPEND, MetricEvent.input_tokens),
    "output_tokens": _sum_where(_SPEND, MetricEvent.output_tokens),
    "cost_usd": cast(_sum_where(_SPEND, MetricEvent.cost_usd), Float),
    "tool_executions": _count(MetricEvent.kind == "tool_execution"),
    "tool_failures": _count(and_(MetricEvent.kind == "tool_execution", MetricEvent.success.is_(False))),
    "errors": _count(MetricEvent.kind == "api_error"),
    "last": func.max(MetricEvent.occurred_at),
}


async def _figures(uow: UnitOfWork, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    labels = list(_FIGURES)
    rows = await uow.session.execute(select(MetricEvent.session_id, *_FIGURES.values())
                                     .where(MetricEvent.session_id.in_(ids)).group_by(MetricEvent.session_id))
    found = {row[0]: dict(zip(labels, row[1:])) for row in rows}
    models = await uow.session.execute(select(MetricEvent.session_id, MetricEvent.model).distinct()
                                       .where(MetricEvent.session_id.in_(ids), MetricEvent.model.is_not(None)))
    for session_id, model in models:
        found.setdefault(session_id, {}).setdefault("models", []).append(model)
    return found


def _row(session: AgentSession, user: User | None, team: Team | None, project: Project | None, figures: dict) -> SessionRow:
    end = session.ended_at or figures.get("last")
    duration = round((end - session.started_at).total_seconds() / 60, 1) if end and end >= session.started_at else None
    return SessionRow(
        id=session.id, user=user.email if user else None, user_name=(user.name or user.email) if user else None,
        team=team.slug if team else None, project=project.name if project else None, started_at=session.started_at,
        ended_at=session.ended_at, duration_minutes=duration, models=sorted(figures.get("models", [])),
        **{name: figures.get(name) or 0 for name in _FIGURES if name != "last"})


def _with_names(query):
    return (query.outerjoin(User, User.id == AgentSession.user_id).outerjoin(Team, Team.id == AgentSession.team_id)
            .outerjoin(Project, Project.id == AgentSession.project_id))


# -- the list ---------------------------------------------------------------------------------------
async def _conditions(uow: UnitOfWork, search: SessionSearch) -> list:
    team_id = (await find_one(uow, Team, search.team, Team.slug, "team")).id if search.team else None
    user_id = (await find_one(uow, User, search.user.lower(), User.email, "user")).id if search.user else None
    scope = await scope_filters(uow, user_id, team_id, individual=True)
    conditions = []
    if scope.user_id is not None:
        conditions.append(AgentSession.user_id == scope.user_id)
    if scope.team_id is not None:
        conditions.append(AgentSession.team_id == scope.team_id)
    if search.project:
        conditions.append(AgentSession.project_id == (await find_one(uow, Project, search.project, Project.name,
                                                                     "project")).id)
    if search.start and search.end and search.start > search.end:
        raise Invalid("start: must be on or before end", field="start")
    if search.start:
        conditions.append(AgentSession.started_at >= search.start)
    if search.end:
        conditions.append(AgentSession.started_at < search.end)
    if search.model:
        used = select(MetricEvent.session_id).where(MetricEvent.model == search.model)
        conditions.append(AgentSession.id.in_(used))
    if search.q:
        text = search.q.lower()  # % and _ are searched for as themselves (autoescape)
        conditions.append(or_(*(func.lower(func.coalesce(column, "")).contains(text, autoescape=True)
                                for column in (AgentSession.id, User.email, User.name, Project.name))))
    return conditions


async def search_sessions(uow: UnitOfWork, search: SessionSearch) -> SessionPage:
    """The sessions the principal may see, most recently started first, a page at a time."""
    conditions = await _conditions(uow, search)
    base = _with_names(select(AgentSession, User, Team, Project)).where(*conditions)
    total = await uow.session.scalar(_with_names(select(func.count()).select_from(AgentSession)).where(*conditions))
    rows = (await uow.session.execute(base.order_by(AgentSession.started_at.desc(), AgentSession.id)
                                      .offset((search.page - 1) * search.limit).limit(search.limit))).all()
    figures = await _figures(uow, [row[0].id for row in rows])
    return SessionPage(items=[_row(*row, figures.get(row[0].id, {})) for row in rows], page=search.page,
                       limit=search.limit, total=total or 0)


# -- one session ------------------------------------------------------------------------------------
_KINDS = {"prompt": "prompt", "api_request": "api_request", "api_error": "api_error", "tool_execution": "tool",
          "tool_decision": "decision", "agent_invocation": "subagent", "command": "command", "code_change": "code_change"}


def _kind(event: MetricEvent) -> str:
    if event.kind == "other" and event.name in COMPACTIONS:
        return "compaction"
    return _KINDS.get(event.kind, "other")


def _item(event: MetricEvent) -> TimelineItem:
    attributes = event.attributes or {}
    error = attributes.get("error")
    if event.kind == "api_error" and attributes.get("status_code"):
        error = f"{attributes['status_code']} {error or ''}".strip()
    spends = event.kind in USAGE
    return TimelineItem(
        at=event.occurred_at, kind=_kind(event), event_kind=event.kind,
        name=event.agent if event.kind == "agent_invocation" and event.agent else event.name,
        success=event.success, duration_ms=event.duration_ms, model=event.model,
        agent=event.agent if event.kind != "agent_invocation" else None,
        input_tokens=event.input_tokens if spends else None, output_tokens=event.output_tokens if spends else None,
        cache_read_tokens=event.cache_read_tokens, cache_creation_tokens=event.cache_write_tokens,
        cost_usd=event.cost_usd, lines_added=event.lines_added, lines_removed=event.lines_removed,
        error=str(error)[:500] if error else None)


async def _session(uow: UnitOfWork, session_id: str) -> tuple:
    found = (await uow.session.execute(_with_names(select(AgentSession, User, Team, Project))
                                       .where(AgentSession.id == session_id))).first()
    if found is None:
        raise NotFound(f"session_id: no session {session_id!r}", field="session_id")
    return tuple(found)


async def session_timeline(uow: UnitOfWork, session_id: str) -> SessionTimeline:
    """Everything recorded in one session, in order, with the session's figures."""
    session, user, team, project = await _session(uow, session_id)
    await scope_filters(uow, session.user_id, None, individual=True)
    events = list(await uow.session.scalars(select(MetricEvent).where(MetricEvent.session_id == session_id)
                                            .order_by(MetricEvent.occurred_at, MetricEvent.id).limit(TIMELINE_LIMIT + 1)))
    figures = (await _figures(uow, [session_id])).get(session_id, {})
    return SessionTimeline(session=_row(session, user, team, project, figures),
                           items=[_item(e) for e in events[:TIMELINE_LIMIT]], truncated=len(events) > TIMELINE_LIMIT)


def session_ref(value: str) -> str:
    """A session id as given in a URL: bounded, so a stranger's megabyte never reaches SQL."""
    if not value or len(value) > 128:
        raise NotFound(f"session_id: no session {value[:40]!r}", field="session_id")
    return value


__all__ = ["SessionPage", "SessionRow", "SessionSearch", "SessionTimeline", "TimelineItem", "search_sessions",
           "session_ref", "session_timeline"]
