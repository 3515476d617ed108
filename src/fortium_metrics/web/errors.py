"""One JSON error envelope for every REST error: {"error": {"code", "message", "field", "request_id"}}."""
from __future__ import annotations

import logging
import uuid

from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import DomainError, Unavailable, refused_value, unavailable
from ..logs import request_id_var

log = logging.getLogger(__name__)


class PayloadTooLarge(DomainError):
    """HTTP-only: a body or batch over the configured limit (not a domain rule, hence here)."""

    code, status = "payload_too_large", 413


class UnsupportedMediaType(DomainError):
    code, status = "unsupported_media_type", 415


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable: invalid, not_found, unauthorized, forbidden, "
                      "rate_limited, payload_too_large, unsupported_media_type, ...")
    message: str = Field(description="For people; starts with the field it is about, if any.")
    field: str | None = Field(None, description="The body field or query parameter at fault.")
    request_id: str = Field(description="Echoes X-Request-Id when sent, else generated; also a response header.")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def error_body(connection: HTTPConnection, code: str, message: str, field: str | None = None) -> dict:
    # The id web/request_log.py gave the request (and the logs carry); outside that middleware
    # (a bare app in a test), the client's header or a new one.
    request_id = request_id_var.get() or connection.headers.get("x-request-id") or uuid.uuid4().hex
    return {"error": {"code": code, "message": message, "field": field, "request_id": request_id}}


def error_response(request: HTTPConnection, status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = error_body(request, code, message, field)
    request_id = body["error"]["request_id"]
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id, **(headers or {})})


async def domain_error_handler(request: HTTPConnection, exc: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="fortium-metrics"'} if exc.status == 401 else None
    if isinstance(exc, Unavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(request, exc.status, exc.code, exc.message, exc.field, headers)


class UnavailableMiddleware:
    """Outermost: a database that cannot be reached is a 503 envelope with Retry-After, wherever
    the error surfaces, in a handler or in the authentication middleware's key lookup (which
    runs before the app's exception handlers and was answered with a plain-text 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            mapped = unavailable(error)
            if mapped is None or started:
                raise
            log.warning("database unavailable, answered 503: %s", str(error).strip().splitlines()[:1])
            response = await domain_error_handler(HTTPConnection(scope), mapped)
            await response(scope, receive, send)


async def http_error_handler(request: HTTPConnection, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (nothing at this path: 404; not this method: 405) in the envelope.
    A 405's Allow names every method the path serves: one path is often several routes (a GET
    and a POST handler), and Starlette would name only the first route's."""
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(request, 405, "method_not_allowed",
                              f"method: {request.method} is not served here; use {headers['Allow']}", None, headers)
    if exc.status_code == 404:
        return error_response(request, 404, "not_found", f"path: nothing is served at {request.url.path}", "path", headers)
    return error_response(request, exc.status_code, "http_error", str(exc.detail), None, headers)


def allowed_methods(request: HTTPConnection) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


async def data_error_handler(request: HTTPConnection, exc: DataError) -> JSONResponse:
    return await domain_error_handler(request, refused_value(exc))
