"""The dashboard's page families. Each declares its widgets (what to ask the analytics service:
measures and dimensions); the browser asks `GET /api/v1/analytics` with the page's filters and
draws the answer. Pages compute no numbers themselves: one source of numbers for pages, API, MCP.
"""
from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...store.uow import UnitOfWork
from ..auth import scope_principal
from ..session_cookies import ACCESS
from .filters import parse_filters
from .session import HOME, csrf_token, keep_csrf, page, sign_in_redirect
from .shell import NAV, shell_context
from .templating import render

TIME = "time"  # a widget grouped by time follows the filter bar's granularity


@dataclass(frozen=True)
class Widget:
    kind: str  # kpi | timeseries | bar (frontend/src/widgets.ts)
    title: str
    measures: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    wide: bool = False


@dataclass(frozen=True)
class PageSpec:
    key: str
    title: str
    intro: str
    widgets: tuple[Widget, ...] = ()
    own_data: bool = False  # the page is about the signed-in person: their user is always the filter


PAGES = {spec.key: spec for spec in (
    PageSpec("overview", "Overview", "How the organisation uses Claude Code, at a glance.", (
        Widget("kpi", "Key figures", ("sessions", "active_users", "prompts", "cost_usd"), wide=True),
        Widget("timeseries", "Cost over time", ("cost_usd",), (TIME,)),
        Widget("timeseries", "Activity over time", ("sessions", "active_users"), (TIME,)),
        Widget("bar", "Cost by model", ("cost_usd",), ("model",)),
        Widget("bar", "Sessions by team", ("sessions",), ("team",)),
    )),
    PageSpec("team", "Team", "Your teams side by side, and their members where you may see them.", (
        Widget("kpi", "Team figures", ("active_users", "sessions", "cost_usd", "pull_requests"), wide=True),
        Widget("bar", "Sessions by person", ("sessions",), ("user",)),
        Widget("bar", "Cost by team", ("cost_usd",), ("team",)),
        Widget("timeseries", "Active people over time", ("active_users",), (TIME,), wide=True),
    )),
    PageSpec("me", "Me", "Your own sessions, cost and output. Only you and your leads see this.", (
        Widget("kpi", "My figures", ("sessions", "prompts", "cost_usd", "lines_added"), wide=True),
        Widget("timeseries", "My sessions over time", ("sessions",), (TIME,)),
        Widget("bar", "My cost by model", ("cost_usd",), ("model",)),
    ), own_data=True),
    PageSpec("models", "Models & cost", "Tokens and estimated cost (API list prices) per model.", (
        Widget("kpi", "Tokens and cost", ("cost_usd", "input_tokens", "output_tokens", "cache_hit_ratio"), wide=True),
        Widget("timeseries", "Cost over time", ("cost_usd",), (TIME,), wide=True),
        Widget("bar", "Cost by model", ("cost_usd",), ("model",)),
        Widget("bar", "Tokens by model", ("input_tokens", "output_tokens", "cache_read_tokens"), ("model",)),
    )),
    PageSpec("tools", "Tools & agents", "Which tools, subagents, MCP servers and skills are used, and how well.", (
        Widget("bar", "Tool success rate", ("tool_success_rate",), ("tool",), wide=True),
        Widget("bar", "Cost by subagent", ("cost_usd",), ("agent",)),
        Widget("bar", "Cost by MCP server", ("cost_usd",), ("mcp_server",)),
        Widget("bar", "Sessions using each skill", ("sessions",), ("skill",), wide=True),
    )),
    PageSpec("projects", "Projects", "Activity and delivery per repository.", (
        Widget("bar", "Cost by project", ("cost_usd",), ("project",)),
        Widget("bar", "Commits and pull requests", ("commits", "pull_requests"), ("project",)),
        Widget("bar", "Lines changed", ("lines_added", "lines_removed"), ("project",), wide=True),
    )),
    PageSpec("sessions", "Sessions", "When people work with Claude Code.", (
        Widget("timeseries", "Sessions over time", ("sessions", "prompts"), (TIME,), wide=True),
        Widget("bar", "Sessions by project", ("sessions",), ("project",), wide=True),
    )),
)}


async def _render_page(request: Request, uow: UnitOfWork, spec: PageSpec, template: str = "page.html") -> Response:
    state = parse_filters(request.query_params)
    if spec.own_data and uow.principal.user_id:
        state.chosen["user"] = [str(uow.principal.user_id)]
    context = await shell_context(request, uow, spec.key, state)
    csrf = csrf_token(request)
    return keep_csrf(request, render(request, template, page=spec, time_dimension=state.granularity, csrf=csrf,
                                     **context), csrf)


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
    return [(paths[key], _handler(spec)) for key, spec in PAGES.items()] + [(paths["admin"], admin_page)]
