"""The web pages: the dashboard (server-rendered, enhanced by frontend/'s script), sign-in and
health. One module per page family; none talks SQL or computes a number (services answer)."""
from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .admin_routes import admin_routes
from .api_docs import api_docs
from .auth_pages import login_page, login_submit, renew, sign_out
from .dashboard import dashboard_pages, home
from .health import healthz, readyz
from ..metrics import metrics
from .layouts import layout_pages
from .sessions import session_pages
from .templating import STATIC_DIR

__all__ = ["healthz", "page_routes", "readyz"]


def page_routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/docs", api_docs, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/api/auth/renew", renew, methods=["GET"]),
        Route("/api/auth/signout", sign_out, methods=["POST"]),
        *admin_routes(),  # before the dashboard's placeholder `/admin`
        *(Route(path, handler, methods=["GET"]) for path, handler in dashboard_pages()),
        *(Route(path, handler, methods=["GET"]) for path, handler in layout_pages()),
        *(Route(path, handler, methods=["GET"]) for path, handler in session_pages()),
        # The front end's build (frontend/ -> web/static); compressed on the fly for browsers that accept it.
        Mount("/static", app=GZipMiddleware(StaticFiles(directory=STATIC_DIR, check_dir=False), minimum_size=512),
              name="static"),
    ]
