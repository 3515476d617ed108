"""REST reads: adapters over `analytics`. Query parameters go through pydantic models (unknown
ones are refused, so a typo such as `?dayz=30` is an error naming it rather than silently the
default), the service runs in a unit of work bound to the caller's organisation, and the `read`
scope is checked by the service. Another organisation's session is simply not found (404)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .. import analytics
from ..analytics import (ActivityItem, Filters, NamedStat, ProductivitySummary, SessionMetrics, SessionPage,
                         SessionSearch, SessionTimeline, Window)
from ..analytics.sessions import session_ref
from ..store.uow import UnitOfWork
from .auth import request_principal
from .bodies import parse_query
from .errors import ErrorEnvelope
from .openapi import Operation, documented


def _not_a_number(value: Any) -> Any:
    """pydantic would read `start=0.5` as a Unix time; the parameter is documented as ISO 8601."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("not an ISO 8601 date or time")
    return value


Instant = Annotated[datetime, BeforeValidator(_not_a_number)]


class FilterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    team: str | None = Field(None, min_length=1, max_length=64, description="Team slug or id.")
    user: str | None = Field(None, min_length=1, max_length=320, description="User e-mail or id.")
    project: str | None = Field(None, min_length=1, max_length=200, description="Project name or id.")

    def filters(self) -> Filters:
        return Filters(team=self.team, user=self.user, project=self.project)


class WindowQuery(FilterQuery):
    days: int = Field(7, ge=1, le=366, description="Window length in days, ending at `end` (default now).")
    start: Instant | None = Field(None, description="Window start, ISO 8601 (no offset means UTC); overrides `days`. "
                                  "Equal to `end`: an empty window; after it: a 422.")
    end: Instant | None = Field(None, description="Window end, ISO 8601 (no offset means UTC). Default: now.")

    def window(self) -> Window:
        return Window.parse(self.start.isoformat() if self.start else None,
                            self.end.isoformat() if self.end else None, self.days)


class StatsQuery(WindowQuery):
    limit: int = Field(20, ge=1, le=200, description="At most this many names, busiest first.")


class SessionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(10, ge=1, le=100, description="Most recently started sessions first.")


class ActivityQuery(FilterQuery):
    limit: int = Field(20, ge=1, le=200, description="Most recent events first.")


class NamedStats(BaseModel):
    start: datetime
    end: datetime
    items: list[NamedStat]


class SessionList(BaseModel):
    sessions: list[SessionMetrics]


class ActivityList(BaseModel):
    items: list[ActivityItem]


Action = Callable[[UnitOfWork, Any], Awaitable[BaseModel]]


async def _read(request: Request, query_model: type[BaseModel] | None, action: Action) -> JSONResponse:
    """Authenticate first (a stranger learns nothing, not even which parameter is wrong), then
    parse the query, then run the service in a unit of work bound to the caller."""
    principal = await request_principal(request)
    query = parse_query(request, query_model) if query_model else None
    async with request.app.state.ctx.store.unit_of_work(principal) as uow:
        result = await action(uow, query)
    return JSONResponse(result.model_dump(mode="json"))


_FILTER_404 = (404, ("The team, user or project filter names nothing in this organisation.", ErrorEnvelope))


@documented(Operation(summary="Productivity summary over a time window", tag="read", query=WindowQuery,
                      responses=dict([(200, ("Totals for the window.", ProductivitySummary)), _FILTER_404])))
async def summary(request: Request) -> JSONResponse:
    return await _read(request, WindowQuery,
                       lambda uow, q: analytics.productivity_summary(uow, q.window(), q.filters()))


def _named_stats_endpoint(kind: str, label: str) -> Callable:
    async def action(uow: UnitOfWork, query: StatsQuery) -> NamedStats:
        window = query.window()
        items = await analytics.named_stats(uow, kind, window, query.filters(), query.limit)
        return NamedStats(start=window.start, end=window.end, items=items)

    @documented(Operation(summary=f"Per-{label} statistics over a time window", tag="read", query=StatsQuery,
                          responses=dict([(200, (f"One row per {label}, busiest first.", NamedStats)), _FILTER_404])))
    async def endpoint(request: Request) -> JSONResponse:
        return await _read(request, StatsQuery, action)

    endpoint.__name__ = f"{label}_stats"
    return endpoint


async def _recent_sessions(uow: UnitOfWork, query: SessionsQuery) -> SessionList:
    return SessionList(sessions=await analytics.recent_sessions(uow, query.limit))


@documented(Operation(summary="Recent sessions with their metrics", tag="read", query=SessionsQuery,
                      responses={200: ("Most recently started first.", SessionList)}))
async def sessions(request: Request) -> JSONResponse:
    return await _read(request, SessionsQuery, _recent_sessions)


@documented(Operation(summary="One session's metrics", tag="read",
                      responses={200: ("Event counts by kind, duration and tool success rate.", SessionMetrics),
                                 404: ("No such session in this organisation.", ErrorEnvelope)}))
async def session(request: Request) -> JSONResponse:
    session_id = request.path_params["session_id"]
    return await _read(request, None, lambda uow, _: analytics.session_metrics(uow, session_id))


class SessionSearchQuery(SessionSearch):
    start: Instant | None = Field(None, description="Sessions started at or after (ISO 8601; no offset means UTC).")
    end: Instant | None = Field(None, description="Sessions started before (exclusive).")


@documented(Operation(
    summary="Search sessions: who, project, start, duration, prompts, cost, tools", tag="read", query=SessionSearchQuery,
    description="Most recently started first, a page at a time. Managers and admins see every session, a lead "
                "the sessions of the teams they lead (filter by `team` or `user`), everyone else their own.",
    responses=dict([(200, ("A page of sessions with the total.", SessionPage)), _FILTER_404])))
async def session_search(request: Request) -> JSONResponse:
    return await _read(request, SessionSearchQuery, analytics.search_sessions)


@documented(Operation(
    summary="One session's timeline: prompts, API requests, tool calls, subagents, errors, compactions", tag="read",
    description="Every stored event of the session in order (at most 5,000), with the session's figures. "
                "Another organisation's session is a 404; a session one may not read a 403.",
    responses={200: ("The session and its events.", SessionTimeline),
               404: ("No such session in this organisation.", ErrorEnvelope)}))
async def session_timeline(request: Request) -> JSONResponse:
    session_id = request.path_params["session_id"]
    return await _read(request, None, lambda uow, _: analytics.session_timeline(uow, session_ref(session_id)))


async def _recent_activity(uow: UnitOfWork, query: ActivityQuery) -> ActivityList:
    return ActivityList(items=await analytics.recent_activity(uow, query.limit, query.filters()))


@documented(Operation(summary="Recent activity (latest events)", tag="read", query=ActivityQuery,
                      responses=dict([(200, ("Most recent first.", ActivityList)), _FILTER_404])))
async def activity(request: Request) -> JSONResponse:
    return await _read(request, ActivityQuery, _recent_activity)


def read_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/summary", summary, methods=["GET"]),
        Route("/api/v1/stats/tools", _named_stats_endpoint("tool_execution", "tool"), methods=["GET"]),
        Route("/api/v1/stats/agents", _named_stats_endpoint("agent_invocation", "agent"), methods=["GET"]),
        Route("/api/v1/sessions", sessions, methods=["GET"]),
        Route("/api/v1/sessions/{session_id}", session, methods=["GET"]),
        Route("/api/v1/sessions/{session_id}/timeline", session_timeline, methods=["GET"]),
        Route("/api/v1/analytics/sessions", session_search, methods=["GET"]),
        Route("/api/v1/activity", activity, methods=["GET"]),
    ]
