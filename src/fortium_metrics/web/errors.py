"""One JSON error envelope for every REST error: {"error": {"code", "message", "field", "request_id"}}."""
from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import DomainError


def error_response(request: Request, status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    body = {"error": {"code": code, "message": message, "field": field, "request_id": request_id}}
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id, **(headers or {})})


async def domain_error_handler(request: Request, exc: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="fortium-metrics"'} if exc.status == 401 else None
    return error_response(request, exc.status, exc.code, exc.message, exc.field, headers)
