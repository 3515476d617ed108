"""Probes. GET /healthz: the process is alive (load balancers, Kubernetes liveness) — it stays 200
while the database is down, so an outage does not get every process restarted. GET /readyz: the
process can serve (Kubernetes readiness): 503 naming every check that is not ready."""
from __future__ import annotations

import asyncio
from functools import cache

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from ... import __version__

CHECK_TIMEOUT = 3.0  # seconds per check: a probe must answer even when a dependency hangs


async def _database(request: Request) -> str:
    try:
        await asyncio.wait_for(request.app.state.store.ping(), CHECK_TIMEOUT)
        return "ok"
    except Exception as error:  # health must answer, whatever the database says
        return f"unavailable: {type(error).__name__}"


async def healthz(request: Request) -> JSONResponse:
    store = request.app.state.store
    # Reported, never a failure: Redis down means per-process limits, the database down means 503s
    # to requests (and /readyz says so), neither means this process should be restarted.
    redis = await request.app.state.ctx.accounts.guard.redis_status()
    return JSONResponse({"status": "ok", "database": await _database(request), "dialect": store.dialect,
                         "version": __version__, "redis": redis})


@cache
def _head() -> str:
    from ...store import migrate

    return migrate.head_revision()


async def _migrations(request: Request) -> str:
    try:
        async with request.app.state.store.engine.connect() as connection:
            current = (await asyncio.wait_for(connection.execute(text("SELECT version_num FROM alembic_version")),
                                              CHECK_TIMEOUT)).scalar()
    except Exception as error:
        return f"unknown: {type(error).__name__}"
    return "ok" if current == _head() else f"schema at {current or 'base'}, code expects {_head()}"


async def _redis(request: Request) -> str:
    status = await request.app.state.ctx.accounts.guard.redis_status()
    return "ok" if status in ("ok", "not configured") else "unreachable"


def _scheduler(request: Request) -> str:
    scheduler = getattr(request.app.state, "scheduler", None)
    return "ok" if scheduler is not None and scheduler.running else "not running"


async def readyz(request: Request) -> JSONResponse:
    checks = {"database": await _database(request)}
    checks["migrations"] = await _migrations(request) if checks["database"] == "ok" else "unknown: no database"
    checks["redis"] = await _redis(request)
    checks["scheduler"] = _scheduler(request)
    failing = sorted(name for name, status in checks.items() if status != "ok")
    return JSONResponse({"status": "not ready" if failing else "ready", "not_ready": failing, "checks": checks},
                        status_code=503 if failing else 200)
