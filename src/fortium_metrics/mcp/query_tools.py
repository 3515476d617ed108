"""Query tools: thin adapters over `analytics`, read inside the caller's organisation only."""
from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import analytics
from ..analytics import AnalyticsQuery, Filters, ProductivitySummary, QueryResult, Window
from ..analytics.catalogue import DIMENSIONS, PUBLIC_MEASURES
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

    @query_tool("query_metrics")
    async def query_metrics(
        measures: Annotated[list[str], Field(min_length=1, max_length=60, description=(
            "Measures, e.g. [\"cost_usd\", \"sessions\"]. Known: " + ", ".join(PUBLIC_MEASURES) + "."))],
        group_by: Annotated[list[str], Field(max_length=4, description=(
            "Dimensions to group by: " + ", ".join(DIMENSIONS) + ", or an organisation label."))] = [],  # noqa: B006
        filters: Annotated[dict[str, list[str]] | None, Field(description=(
            "Dimension -> accepted values, e.g. {\"team\": [\"platform\"], \"model\": [\"claude-opus-4-1\"]}."))] = None,
        start: Start = None, end: End = None,
        days: Annotated[int, Field(ge=1, le=3660, description="Without start: the last N local days, today included.")] = 30,
        granularity: Annotated[str | None, Field(description="hour, day, week or month: adds that time dimension.")] = None,
        compare: Annotated[str | None, Field(description="\"previous\": also the previous period's totals.")] = None,
        order_by: Annotated[list[str], Field(description="Measures or dimensions; \"-name\" for descending.")] = [],  # noqa: B006
        limit: Annotated[int, Field(ge=1, le=1000, description="At most this many rows.")] = 100,
    ) -> QueryResult:
        """Any measures by any dimensions over a time window, with totals and, with compare="previous", the
        previous period's totals. The same model as the dashboard and GET /api/v1/analytics. Examples: cost by
        model per day (measures ["cost_usd"], group_by ["day", "model"]); top tools (measures ["tool_executions",
        "tool_success_rate"], group_by ["tool"], order_by ["-tool_executions"], limit 10)."""
        q = AnalyticsQuery.model_validate({
            "measures": measures, "group_by": group_by, "filters": filters or {}, "days": days,
            "start": start, "end": end, "granularity": granularity, "compare": compare, "order_by": order_by,
            "limit": limit})
        return await backend.read(lambda uow: analytics.query(uow, q))
