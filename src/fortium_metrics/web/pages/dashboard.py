"""The dashboard's page families. Each declares its widgets (what to ask the analytics service:
measures and dimensions); the browser asks `GET /api/v1/analytics` with the page's filters and
draws the answer. Pages compute no numbers themselves: one source of numbers for pages, API, MCP.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import teams
from ...analytics.catalogue import KPI_MEASURES
from ...errors import NotFound
from ...permissions import home_team, member_teams, reads_members
from ...store.uow import UnitOfWork
from ..auth import scope_principal
from ..session_cookies import ACCESS
from .filters import FilterState, read_filters
from .session import HOME, csrf_token, keep_csrf, page, sign_in_redirect
from .shell import NAV, shell_context
from .templating import render

TIME = "time"  # a widget grouped by time follows the filter bar's granularity
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
MEMBER_FIGURES = ("sessions", "prompts", "cost_usd", "tool_success_rate", "lines_added", "commits", "pull_requests")
TEAM_FIGURES = ("active_users", "sessions", "prompts", "cost_usd", "cache_hit_ratio", "tool_success_rate",
                "lines_added", "pull_requests")


@dataclass(frozen=True)
class Widget:
    kind: str  # kpi | timeseries | bar | table | peer (frontend/src/widgets.ts)
    title: str
    measures: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    wide: bool = False
    stack: bool = False  # series stacked (cost by model, tokens by kind)
    top: int | None = None  # only the largest rows, by the first measure
    per_person: bool = False  # one row per person: shown to those who may read the team's members


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    intro: str
    widgets: tuple[Widget, ...] = ()
    own_data: bool = False  # the page is about the signed-in person: their user is always the filter
    own_team: bool = False  # without a team filter, a lead's or member's first team (staff: everyone)


PAGES = {spec.key: spec for spec in (
    PageSpec("overview", "Overview", "How the organisation uses Claude Code, at a glance.", (
        Widget("kpi", "Key figures", KPI_MEASURES, wide=True),
        Widget("timeseries", "Cost by model", ("cost_usd",), (TIME, "model"), stack=True),
        Widget("timeseries", "Tokens by kind", TOKENS, (TIME,), stack=True),
        Widget("timeseries", "Active people", ("active_users",), (TIME,)),
        Widget("timeseries", "Sessions", ("sessions",), (TIME,)),
        Widget("bar", "Top tools", ("tool_executions",), ("tool",), top=10),
        Widget("bar", "Top subagents", ("agent_invocations",), ("agent",), top=10),
        Widget("bar", "Top MCP servers", ("tool_executions",), ("mcp_server",), top=10),
        Widget("bar", "Cost by team", ("cost_usd",), ("team",)),
        Widget("table", "Teams compared", TEAM_FIGURES, ("team",), wide=True),
    )),
    PageSpec("team", "Team", "Your team's figures and trends, and its members where you may see them.", (
        Widget("kpi", "Team figures", ("active_users", "sessions", "prompts", "cost_usd", "tool_success_rate",
                                       "lines_added", "commits", "pull_requests"), wide=True),
        Widget("table", "Members", MEMBER_FIGURES, ("user",), wide=True, per_person=True),
        Widget("timeseries", "Active people", ("active_users",), (TIME,)),
        Widget("timeseries", "Sessions and prompts", ("sessions", "prompts"), (TIME,)),
        Widget("timeseries", "Cost by model", ("cost_usd",), (TIME, "model"), stack=True),
        Widget("bar", "Cost by team", ("cost_usd",), ("team",)),
    ), own_team=True),
    PageSpec("me", "Me", "Your own sessions, cost and output. Only you and your leads see this.", (
        Widget("kpi", "My figures", ("sessions", "prompts", "cost_usd", "tool_success_rate", "lines_added", "commits"),
               wide=True),
        Widget("peer", "You and your team's average person", ("sessions", "prompts", "cost_usd", "lines_added",
                                                              "commits", "pull_requests", "tool_success_rate"), wide=True),
        Widget("timeseries", "My sessions", ("sessions",), (TIME,)),
        Widget("timeseries", "My cost by model", ("cost_usd",), (TIME, "model"), stack=True),
        Widget("bar", "My top tools", ("tool_executions",), ("tool",), top=10),
        Widget("bar", "My cost by project", ("cost_usd",), ("project",), top=10),
    ), own_data=True),
    PageSpec("models", "Models & cost", "Tokens and estimated cost (API list prices) per model.", (
        Widget("kpi", "Tokens and cost", ("cost_usd", "input_tokens", "output_tokens", "cache_read_tokens",
                                          "cache_hit_ratio", "cost_per_session"), wide=True),
        Widget("timeseries", "Cost by model", ("cost_usd",), (TIME, "model"), stack=True, wide=True),
        Widget("bar", "Cost per model in the period", ("cost_usd",), ("model",)),
        Widget("timeseries", "Tokens by kind", TOKENS, (TIME,), stack=True),
        Widget("table", "Per model", ("cost_usd", "api_requests", "input_tokens", "output_tokens", "cache_read_tokens",
                                      "cache_hit_ratio", "api_error_rate"), ("model",), wide=True),
    )),
    PageSpec("tools", "Tools & agents", "Which tools, subagents, MCP servers and skills are used, and how well.", (
        Widget("table", "Tools", ("tool_executions", "tool_success_rate", "tool_duration_p50_ms", "tool_duration_p95_ms"),
               ("tool",), wide=True),
        Widget("bar", "Subagent invocations", ("agent_invocations",), ("agent",), top=10),
        Widget("bar", "MCP server tool calls", ("tool_executions",), ("mcp_server",), top=10),
        Widget("bar", "Skills activated", ("skill_activations",), ("skill",), top=10),
        Widget("bar", "Slash commands", ("commands",), ("command",), top=10),
    )),
    PageSpec("projects", "Projects", "Activity and delivery per repository.", (
        Widget("bar", "Cost by project", ("cost_usd",), ("project",), top=15),
        Widget("bar", "Commits and pull requests", ("commits", "pull_requests"), ("project",), top=15),
        Widget("table", "Per project", ("active_users", "sessions", "cost_usd", "lines_added", "lines_removed",
                                        "commits", "pull_requests"), ("project",), wide=True),
    )),
    PageSpec("sessions", "Sessions", "Every session you may see: search, filter, and open one's timeline.", (
        Widget("timeseries", "Sessions and prompts", ("sessions", "prompts"), (TIME,), wide=True),
    )),
)}


async def _team_id(uow: UnitOfWork, slug: str) -> uuid.UUID | None:
    try:
        return (await teams.get_team(uow, slug)).id
    except NotFound:
        return None


async def _slug(uow: UnitOfWork, team_id: uuid.UUID | None) -> str | None:
    return (await teams.get_team(uow, team_id)).slug if team_id else None


async def page_widgets(uow: UnitOfWork, spec: PageSpec, state: FilterState) -> list[Widget]:
    """The page's widgets the principal may see: per-person tables only to those who read the
    (chosen) team's members (permissions.reads_members)."""
    if not any(widget.per_person for widget in spec.widgets):
        return list(spec.widgets)
    team = state.first("team")
    members = await reads_members(uow, await _team_id(uow, team) if team else None)
    return [widget for widget in spec.widgets if members or not widget.per_person]


async def page_state(request: Request, uow: UnitOfWork, spec: PageSpec) -> tuple[FilterState, str | None]:
    """The filter state a page shows, and (the Me page) the team its person is compared with."""
    state = await read_filters(request, uow)
    peer = None
    if spec.own_data and uow.principal.user_id:
        state.chosen["user"] = [str(uow.principal.user_id)]
        peer = state.first("team") or await _slug(uow, await home_team(uow) or await _first_team(uow))
    if spec.own_team and not state.first("team"):
        slug = await _slug(uow, await home_team(uow))
        if slug:
            state.chosen["team"] = [slug]
    return state, peer


async def _first_team(uow: UnitOfWork) -> uuid.UUID | None:
    return min(await member_teams(uow, uow.principal), default=None)


async def _render_page(request: Request, uow: UnitOfWork, spec: PageSpec, template: str = "page.html",
                       **extra) -> Response:
    state, peer = await page_state(request, uow, spec)
    context = await shell_context(request, uow, spec.key, state)
    csrf = csrf_token(request)
    return keep_csrf(request, render(request, template, page=spec, widgets=await page_widgets(uow, spec, state),
                                     peer_team=peer, time_dimension=state.granularity, csrf=csrf, **context, **extra),
                     csrf)


def _handler(spec: PageSpec):
    @page("metrics.read")
    async def handler(request: Request, uow: UnitOfWork) -> Response:
        return await _render_page(request, uow, spec)

    handler.__name__ = f"{spec.key}_page"
    return handler


ADMIN = PageSpec("admin", "Administration", "People, teams, API keys, single sign-on and the audit log.")


@page("org.update")
async def admin_page(request: Request, uow: UnitOfWork) -> Response:
    return await _render_page(request, uow, ADMIN, "admin.html")


async def home(request: Request) -> Response:
    """`/`: the overview when signed in, else the sign-in page."""
    if scope_principal(request.scope) is None:
        return sign_in_redirect(request) if request.cookies.get(ACCESS) else RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME, status_code=303)


def dashboard_pages() -> list[tuple[str, object]]:
    paths = {item.key: item.path for item in NAV}
    # /sessions has a page of its own (pages/sessions.py): the list and the timeline.
    return [(paths[key], _handler(spec)) for key, spec in PAGES.items() if key != "sessions"] + [
        (paths["admin"], admin_page)]
