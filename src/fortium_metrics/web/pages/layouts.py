"""Dashboards of one's own: `/dashboards` (the layouts one may open) and `/dashboards/{id}` (one
layout as a grid, edited in the browser by frontend/src/grid.ts and saved through /api/dashboards).
`/dashboards/default` is the layout the list opens first; `/dashboards/new` an empty one to fill.
Like every page, they ask the dashboards service and compute nothing."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...dashboards import service
from ...dashboards.layout import DashboardOut
from ...store.uow import UnitOfWork
from .filters import read_filters
from .session import csrf_token, keep_csrf, page
from .shell import shell_context
from .templating import render

NEW = "new"


async def _render(request: Request, uow: UnitOfWork, template: str, **context) -> Response:
    state = await read_filters(request, uow)
    shell = await shell_context(request, uow, "dashboards", state)
    csrf = csrf_token(request)
    return keep_csrf(request, render(request, template, csrf=csrf, **shell, **context), csrf)


@page("dashboards.read")
async def dashboards_page(request: Request, uow: UnitOfWork) -> Response:
    found = await service.list_dashboards(uow)
    return await _render(request, uow, "dashboards.html", dashboards=found.items, default=found.default)


@page("dashboards.read")
async def dashboard_page(request: Request, uow: UnitOfWork) -> Response:
    ref = request.path_params["dashboard_id"]
    if ref == NEW:
        dashboard = DashboardOut(id=None, name="New layout", widgets=[], builtin=True)
    else:
        dashboard = await service.get_dashboard(uow, ref)
    return await _render(request, uow, "dashboard.html", dashboard=dashboard,
                         layout=dashboard.model_dump(mode="json"))


def layout_pages() -> list[tuple[str, object]]:
    return [("/dashboards", dashboards_page), ("/dashboards/{dashboard_id}", dashboard_page)]
