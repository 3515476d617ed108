"""The sessions pages: `/sessions` (the searchable, filterable, paged list, with the filter bar's
team, person, project, model and dates) and `/sessions/{id}` (one session's timeline). Both ask
analytics/sessions.py, which decides with permissions.py whose sessions the principal may see;
nothing here counts anything."""
from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import Response

from ... import analytics
from ...analytics import SessionSearch
from ...analytics.sessions import session_ref
from ...errors import DomainError
from ...pagination import page_number
from ...store.uow import UnitOfWork
from .dashboard import PAGES, page_state, page_widgets
from .filters import FilterState
from .session import csrf_token, keep_csrf, page
from .shell import shell_context
from .templating import render

PER_PAGE = 25


def search_of(request: Request, state: FilterState) -> SessionSearch:
    start, end = state.window()
    return SessionSearch(q=(request.query_params.get("q") or "").strip()[:200] or None,
                         team=state.first("team") or None, user=state.first("user") or None,
                         project=state.first("project") or None, model=state.first("model") or None,
                         start=start, end=end, page=page_number(request.query_params.get("page")), limit=PER_PAGE)


async def _render(request: Request, uow: UnitOfWork, template: str, state: FilterState, **context) -> Response:
    shell = await shell_context(request, uow, "sessions", state)
    csrf = csrf_token(request)
    return keep_csrf(request, render(request, template, csrf=csrf, **shell, **context), csrf)


@page("metrics.read")
async def sessions_page(request: Request, uow: UnitOfWork) -> Response:
    spec = PAGES["sessions"]
    state, _ = await page_state(request, uow, spec)
    search = search_of(request, state)
    try:
        found = await analytics.search_sessions(uow, search)
    except DomainError as error:  # a filter the principal may not use: said, not a broken page
        state.notices.append(error.message)
        found = analytics.SessionPage(items=[], page=1, limit=PER_PAGE, total=0)
    pages = max(1, -(-found.total // PER_PAGE))
    return await _render(request, uow, "sessions.html", state, page=spec, widgets=await page_widgets(uow, spec, state),
                         time_dimension=state.granularity, found=found, search=search, pages=pages,
                         filter_items=state.query_items())


@page("metrics.read")
async def timeline_page(request: Request, uow: UnitOfWork) -> Response:
    state, _ = await page_state(request, uow, PAGES["sessions"])
    timeline = await analytics.session_timeline(uow, session_ref(request.path_params["session_id"]))
    kinds = sorted({item.kind for item in timeline.items})
    return await _render(request, uow, "session.html", state, timeline=timeline, session=timeline.session, kinds=kinds,
                         now=datetime.now(timezone.utc))


def session_pages() -> list[tuple[str, object]]:
    return [("/sessions", sessions_page), ("/sessions/{session_id}", timeline_page)]
