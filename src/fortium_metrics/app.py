"""create_app(settings) -> Starlette: dashboard, health, REST API, live updates (/ws) and MCP over
HTTP in one app.

The lifespan owns what runs: the MCP session manager, the scheduler, the ingestion writer, the
live-event bus and the engine. Nothing is built at import time, so tests make a fresh app per case.
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.exc import DataError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from .config import Settings
from .context import AppContext
from .errors import DomainError
from .mcp.http import mcp_http
from .scheduler import build_scheduler
from .store.uow import Store
from .web.pages import page_routes
from .web.admin_api import admin_routes
from .web.invitations_api import invitation_routes
from .web.api import api_routes
from .web.auth_api import auth_routes
from .web.auth import CredentialVerifier, auth_middleware
from .web.claude_hooks import claude_hook_routes
from .web.dashboards_api import dashboard_routes
from .web.otlp import otlp_routes
from .web.sso_api import sso_routes
from .web.errors import UnavailableMiddleware, data_error_handler, domain_error_handler, http_error_handler
from .web.live import build_hub, live_routes
from .web.metrics import HttpMetricsMiddleware
from .web.middleware import proxy_middleware
from .web.request_log import request_log_middleware


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """A given `store` is used and left open (tests share one); otherwise the app owns its own."""
    ctx = AppContext.build(settings, store)
    verifier = CredentialVerifier(ctx.store, ctx.accounts)
    mcp_routes, mcp_lifespan = mcp_http(ctx, verifier)
    hub = build_hub(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler = build_scheduler(settings, ctx.store)
        scheduler.start()
        app.state.scheduler = scheduler  # /readyz asks whether it runs
        await ctx.bus.start()
        try:
            async with mcp_lifespan():
                yield
        finally:
            if scheduler.running:  # a scheduler that failed (or was stopped) has nothing to shut down
                scheduler.shutdown(wait=False)
            await ctx.close(dispose_store=store is None)

    app = Starlette(
        routes=[*page_routes(), *api_routes(), *auth_routes(), *sso_routes(), *admin_routes(), *invitation_routes(),
                *dashboard_routes(),
                *otlp_routes(), *claude_hook_routes(), *live_routes(),
                *mcp_routes],
        middleware=[Middleware(HttpMetricsMiddleware), *proxy_middleware(settings), *request_log_middleware(settings),
                    Middleware(UnavailableMiddleware), *auth_middleware(verifier, settings)],
        exception_handlers={DomainError: domain_error_handler, DataError: data_error_handler,
                            HTTPException: http_error_handler},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.store = ctx.store
    app.state.hub = hub
    return app
