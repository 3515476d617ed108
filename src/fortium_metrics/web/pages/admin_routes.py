"""The administration pages' routes, and `/admin` itself (the first tab the principal may open)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...store.uow import UnitOfWork
from .admin_audit import audit_routes
from .admin_common import TABS
from .admin_invite import invite_routes
from .admin_keys import key_routes
from .admin_org import org_routes
from .admin_teams import team_routes
from .admin_users import user_routes
from .session import page
from .shell import allowed


@page("org.update")
async def admin_home(request: Request, uow: UnitOfWork) -> Response:
    for tab in TABS:
        if await allowed(uow, tab.action):
            return RedirectResponse(tab.path, status_code=303)
    return RedirectResponse("/overview", status_code=303)


def admin_routes() -> list[Route]:
    found = [*user_routes(), *team_routes(), *key_routes(), *org_routes(), *audit_routes(), *invite_routes()]
    return [Route("/admin", admin_home, methods=["GET"])] + [
        Route(path, handler, methods=[method]) for method, path, handler in found]
