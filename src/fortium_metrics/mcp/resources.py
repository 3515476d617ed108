"""Resources (dashboard snapshots as JSON) and prompts. Each resource answers under its current
`fortium://` URI and under the legacy `metrics://` URI the old server advertised."""
from __future__ import annotations

import json
from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from .. import analytics, teams
from ..analytics import Filters, Window
from ..store.uow import UnitOfWork
from .backend import Backend

JSON = "application/json"


async def _dashboard(uow: UnitOfWork) -> str:
    return (await analytics.productivity_summary(uow, Window.last(7), Filters())).model_dump_json(indent=2)


async def _agents(uow: UnitOfWork) -> str:
    window = Window.last(30)
    stats = await analytics.named_stats(uow, "agent_invocation", window, Filters(), 50)
    return json.dumps({"start": window.start.isoformat(), "end": window.end.isoformat(),
                       "agents": [stat.model_dump(mode="json") for stat in stats]}, indent=2)


async def _teams(uow: UnitOfWork) -> str:
    window = Window.last(7)
    rows = []
    for team in await teams.list_teams(uow):
        summary = await analytics.productivity_summary(uow, window, Filters(team=team.slug))
        rows.append({"team": team.slug, "name": team.name, **summary.model_dump(mode="json", exclude={"start", "end"})})
    return json.dumps({"start": window.start.isoformat(), "end": window.end.isoformat(), "teams": rows}, indent=2)


def register_resources(mcp: MCPServer, backend: Backend) -> None:
    def both(uri: str, legacy_uri: str, name: str, description: str):
        def register(fn):
            mcp.resource(uri, name=name, description=description, mime_type=JSON)(fn)
            mcp.resource(legacy_uri, name=f"{name} (legacy URI)", description=description, mime_type=JSON)(fn)
            return fn
        return register

    @both("fortium://dashboard/summary", "metrics://dashboard/current", "dashboard-summary",
          "The organisation's totals for the last 7 days (sessions, tools, agents, tokens, cost).")
    async def dashboard_summary() -> str:
        return await backend.read(_dashboard)

    @both("fortium://agents/usage", "metrics://agents/usage", "agent-usage",
          "Per-agent invocations, success rate, durations and tokens over the last 30 days.")
    async def agent_usage() -> str:
        return await backend.read(_agents)

    @both("fortium://teams/performance", "metrics://teams/performance", "team-performance",
          "Each team's totals for the last 7 days.")
    async def team_performance() -> str:
        return await backend.read(_teams)


def register_prompts(mcp: MCPServer) -> None:
    @mcp.prompt(name="weekly-productivity-review",
                description="Review the last week's AI-assisted productivity, for everyone, a team or a user.")
    def weekly_review(team: Annotated[str, Field(description="Team slug (optional).")] = "",
                      user: Annotated[str, Field(description="User e-mail (optional).")] = "") -> str:
        scope = f"team {team!r}" if team else f"user {user!r}" if user else "the whole organisation"
        filters = "".join(f', {key}="{value}"' for key, value in (("team", team), ("user", user)) if value)
        return (
            f"Write a weekly productivity review for {scope}.\n"
            f"1. Call productivity_summary(days=7{filters}) for this week, and again with start/end set to the "
            "7 days before for the previous week.\n"
            f"2. Call tool_stats(days=7{filters}) and agent_stats(days=7{filters}).\n"
            "3. Report: what changed week over week (sessions, completed tasks, tool success rate, tokens and "
            "cost), the busiest and the least reliable tools and agents, and three concrete recommendations. "
            "Quote the numbers you rely on; say so when a week has too little data to compare."
        )

    @mcp.prompt(name="analyze-productivity", description="(Legacy) Analyse one user's productivity over N days.")
    def analyze_productivity(user_id: str, days: int = 7) -> str:
        return (f"Analyse the productivity of user {user_id!r} over the last {days} days: call "
                f'productivity_summary(days={days}, user="{user_id}") and tool_stats(days={days}, '
                f'user="{user_id}"), then summarise trends, bottlenecks and recommendations.')
