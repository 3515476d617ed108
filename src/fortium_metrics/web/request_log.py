"""Request ids and, in JSON log mode, one access line per request.

Every HTTP request gets an id (a sane `X-Request-ID` from the client or proxy, else a new one),
answered in the `X-Request-ID` header and attached to every log record written while serving it
(logs.py). The access line names the route template and the path, never the query string
(sign-in callbacks carry codes there)."""
from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..logs import request_id_var
from .auth import scope_principal

access_log = logging.getLogger("fortium_metrics.access")
_SANE_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, access_lines: bool) -> None:
        self.app = app
        self.access_lines = access_lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"x-request-id" for name, _ in headers):  # error envelopes set it
                    message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if self.access_lines:
                client = scope.get("client")
                principal = scope_principal(scope)
                access_log.info("%s %s %s", scope.get("method", "WS"), scope["path"], status[0], extra={
                    "method": scope.get("method", "WEBSOCKET"), "path": scope["path"],
                    "route": getattr(scope.get("route"), "path", None), "status": status[0],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": client[0] if client else None,
                    "organization_id": str(principal.organization_id) if principal and principal.organization_id else None})
            request_id_var.reset(token)


def request_log_middleware(settings: Settings) -> list[Middleware]:
    return [Middleware(RequestLogMiddleware, access_lines=settings.log_format == "json")]
