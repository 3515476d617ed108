"""GET /metrics (Prometheus text format) and the middleware that counts HTTP requests.

Who may scrape: with FORTIUM_METRICS_TOKEN set, a request carrying `Authorization: Bearer
<token>`; without it, only a client on the machine itself (127.0.0.1 or ::1) whose request came
through no proxy (no X-Forwarded-For), so a reverse proxy on the same host does not publish it.
Anyone else gets 404: the endpoint's existence is not advertised.
"""
from __future__ import annotations

import hmac
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import telemetry

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def allowed(request: Request) -> bool:
    token = request.app.state.settings.metrics_token
    if token is not None:
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        return hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    client = request.client.host if request.client else ""
    return client in LOOPBACK and "x-forwarded-for" not in request.headers


def _process_gauges(request: Request) -> bytes:
    """What is read from the process's parts at scrape time: queue depth, pool, WebSocket clients."""
    registry = CollectorRegistry()
    app = request.app
    Gauge("fortium_ingest_queue_requests", "Ingestion requests waiting for a writer (group-commit queue depth).",
          registry=registry).set(app.state.ctx.ingestor.queued)
    Gauge("fortium_websocket_clients", "Live-update WebSocket clients connected to this process.",
          registry=registry).set(app.state.hub.connections)
    pool = app.state.store.engine.pool
    pool_gauge = Gauge("fortium_db_pool_connections", "Database connections of this process's pool by state.",
                       ["state"], registry=registry)
    for state, read in (("size", "size"), ("checked_out", "checkedout"), ("overflow", "overflow"),
                        ("idle", "checkedin")):
        if hasattr(pool, read):
            pool_gauge.labels(state).set(getattr(pool, read)())
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    if not allowed(request):
        return JSONResponse({"error": {"code": "not_found", "message": "Not Found"}}, status_code=404)
    body = generate_latest(telemetry.REGISTRY) + _process_gauges(request)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class HttpMetricsMiddleware:
    """Counts every HTTP request by method, route template and status, and times it. Outermost, so
    503s, 429s and 413s of the other middleware are counted too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            telemetry.HTTP_REQUESTS.labels(scope["method"], route, str(status[0])).inc()
            telemetry.HTTP_SECONDS.labels(route).observe(time.perf_counter() - started)
