"""create_app(settings) -> Starlette. The lifespan owns the engine (and later scheduler, MCP)."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

from .config import Settings
from .scheduler import build_scheduler
from .errors import DomainError
from .store.engine import create_engine
from .store.uow import Store
from .web import pages
from .web.errors import domain_error_handler


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """A fresh app per call: tests build one per case. A given `store` is used and not disposed."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or Store(create_engine(settings.effective_database_url))
        scheduler = build_scheduler(settings, app.state.store)
        scheduler.start()
        try:
            yield
        finally:
            scheduler.shutdown(wait=False)
            if owned:
                await app.state.store.dispose()

    app = Starlette(
        routes=[Route("/", pages.dashboard), Route("/healthz", pages.healthz)],
        exception_handlers={DomainError: domain_error_handler},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
