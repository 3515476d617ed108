"""Helpers shared by the REST tests (tests/test_rest_*.py)."""
from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from fortium_metrics.store.models import MetricEvent

REDIS_ENV = "FORTIUM_TEST_REDIS_URL"


@contextlib.asynccontextmanager
async def client_for(store, backend, tmp_path, **settings) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh app with these settings on the test's store, its lifespan in the test's loop."""
    async with app_for(store, backend, tmp_path, **settings) as app:
        async with client_of(app) as client:
            yield client


@contextlib.asynccontextmanager
async def app_for(store, backend, tmp_path, **settings):
    from fortium_metrics.app import create_app
    from fortium_metrics.config import load_settings

    app = create_app(load_settings(database_url=backend.url, data_dir=tmp_path / "data", **settings), store=store)
    async with asgi_lifespan(app):
        yield app


def client_of(app, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of `app` whose requests come from `address` (the peer the server sees)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@contextlib.asynccontextmanager
async def asgi_lifespan(app) -> AsyncIterator[None]:
    """Startup and shutdown through the whole middleware stack, as uvicorn sends them (the
    router's lifespan_context alone would skip what middleware does at shutdown)."""
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        stopped = await from_app.get()
        await task
        assert stopped["type"] == "lifespan.shutdown.complete", stopped


def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis not configured: set {REDIS_ENV}=redis://HOST:PORT/DB to run (CI uses redis://127.0.0.1:6379/15)")
    return url


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header for a key or token. Lives here, not in conftest: `conftest` can
    name another directory's conftest module when several exist."""
    return {"Authorization": f"Bearer {secret}"}


async def make_key(store, organization_id, scopes: list[str], user: str | None = None) -> str:
    """An API key made by an operator (CLI-like principal), whatever the test people may do."""
    from fortium_metrics import apikeys
    from fortium_metrics.principal import Principal

    async with store.unit_of_work(Principal.org_admin(organization_id)) as uow:
        return (await apikeys.create_api_key(uow, "test key", scopes, user)).secret


async def stored_events(store, principal, kind: str | None = None) -> list[MetricEvent]:
    async with store.unit_of_work(principal) as uow:
        query = select(MetricEvent).order_by(MetricEvent.occurred_at)
        if kind:
            query = query.where(MetricEvent.kind == kind)
        return list(await uow.session.scalars(query))
