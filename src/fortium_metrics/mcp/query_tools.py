"""Query tools: thin adapters over `analytics`, read inside the caller's organisation only."""
from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import analytics
from ..analytics import Filters, ProductivitySummary, Window
from .backend import Backend
from .models import Activity, Sessions, Stats

Days = Annotated[int, Field(ge=1, le=366, description="Look back this many days (ignored when start is given).")]
Start = Annotated[str | None, Field(description="Window start, ISO 8601 date or date-time (UTC unless an offset is given).")]
End = Annotated[str | None, Field(description="Window end, ISO 8601. Default: now.")]
TeamFilter = Annotated[str | None, Field(description="Only this team (slug or id).")]
UserFilter = Annotated[str | None, Field(description="Only this user (e-mail or id).")]
ProjectFilter = Annotated[str | None, Field(description="Only this project (name or id).")]
Limit = Annotated[int, Field(ge=1, le=100, description="At most this many rows.")]
# read_only_hint also tells a forwarder to proxy the call to the remote server (see server.py).
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def register_query_tools(mcp: MCPServer, backend: Backend) -> None:
    def query_tool(name: str):
        return mcp.tool(name=name, annotations=READ)

    @query_tool("productivity_summary")
    async def productivity_summary(days: Days = 7, start: Start = None, end: End = None, team: TeamFilter = None,
                                   user: UserFilter = None, project: ProjectFilter = None) -> ProductivitySummary:
        """Totals for a time window: sessions, active users, tool executions and success rate, agent
        invocations, commands, completed tasks, tokens, cost and lines changed. Filter by team, user
        or project; choose the window with `days` or `start`/`end`."""
        window, filters = Window.parse(start, end, days), Filters(team=team, user=user, project=project)
        return await backend.read(lambda uow: analytics.productivity_summary(uow, window, filters))

    async def named(kind: str, days: int, start: str | None, end: str | None, filters: Filters, limit: int) -> Stats:
        window = Window.parse(start, end, days)
        items = await backend.read(lambda uow: analytics.named_stats(uow, kind, window, filters, limit))
        return Stats(kind="tool" if kind == "tool_execution" else "agent", start=window.start, end=window.end, items=items)

    @query_tool("tool_stats")
    async def tool_stats(days: Days = 7, start: Start = None, end: End = None, team: TeamFilter = None,
                         user: UserFilter = None, project: ProjectFilter = None, limit: Limit = 20) -> Stats:
        """Per tool (Read, Edit, Bash…): executions, success rate, average and maximum duration, busiest first."""
        return await named("tool_execution", days, start, end, Filters(team=team, user=user, project=project), limit)

    @query_tool("agent_stats")
    async def agent_stats(days: Days = 7, start: Start = None, end: End = None, team: TeamFilter = None,
                          user: UserFilter = None, project: ProjectFilter = None, limit: Limit = 20) -> Stats:
        """Per agent: invocations, success rate, durations and tokens, busiest first."""
        return await named("agent_invocation", days, start, end, Filters(team=team, user=user, project=project), limit)

    @query_tool("session_metrics")
    async def session_metrics(session_id: Annotated[str | None, Field(max_length=128, description=(
                                  "One session; omit for the most recent sessions."))] = None,
                              limit: Annotated[int, Field(ge=1, le=50)] = 10) -> Sessions:
        """Metrics of one session (start, end, duration, events by kind, tool success rate), or of the
        most recent sessions when no session_id is given."""
        if session_id:
            return Sessions(sessions=[await backend.read(lambda uow: analytics.session_metrics(uow, session_id))])
        return Sessions(sessions=await backend.read(lambda uow: analytics.recent_sessions(uow, limit)))

    @query_tool("recent_activity")
    async def recent_activity(limit: Annotated[int, Field(ge=1, le=200)] = 20, team: TeamFilter = None,
                              user: UserFilter = None, project: ProjectFilter = None) -> Activity:
        """The latest recorded events (tool uses, agent invocations, commands, tasks…), newest first."""
        filters = Filters(team=team, user=user, project=project)
        return Activity(items=await backend.read(lambda uow: analytics.recent_activity(uow, limit, filters)))
