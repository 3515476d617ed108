"""GET /healthz: the service and its database."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from ... import __version__


async def healthz(request: Request) -> JSONResponse:
    store = request.app.state.store
    try:
        await store.ping()
        database = "ok"
    except Exception as error:  # health must answer, whatever the database says
        database = f"unavailable: {type(error).__name__}"
    status = 200 if database == "ok" else 503
    # Redis down does not make the service unhealthy (limits fall back to per-process counting),
    # so it is reported but never turns the answer into a 503.
    redis = await request.app.state.ctx.accounts.guard.redis_status()
    return JSONResponse(
        {"status": "ok" if status == 200 else "degraded", "database": database,
         "dialect": store.dialect, "version": __version__, "redis": redis},
        status_code=status,
    )
