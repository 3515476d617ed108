"""OTLP/HTTP receiver routes: POST /v1/metrics and /v1/logs, also under the `/otlp` base path
(OTEL_EXPORTER_OTLP_ENDPOINT=https://host/otlp, to which exporters append /v1/<signal>), and the
bare base path for JSON bodies. Responses follow the OTLP spec: 200 with an Export…ServiceResponse
in the request's content type, `partialSuccess` when some records were rejected.

Compressed bodies are inflated up to FORTIUM_MAX_BODY_BYTES (more is a 413), and compressed or
large bodies are decoded in a worker thread (bodies.off_loop)."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from google.protobuf.message import Message

from ..errors import BadRequest, Invalid
from ..otlp import decode
from ..otlp.service import receive_logs, receive_metrics
from .auth import request_principal
from .bodies import check_depth, off_loop
from .errors import PayloadTooLarge, UnsupportedMediaType

_RECEIVERS = {"metrics": receive_metrics, "logs": receive_logs}


async def _export(request: Request, signal: str | None) -> Response:
    principal = await request_principal(request)
    try:
        kind = decode.media_type(request.headers.get("content-type"))
    except decode.UnsupportedMediaType as error:
        raise UnsupportedMediaType(str(error), field="Content-Type") from None
    encoding = request.headers.get("content-encoding")
    limit = request.app.state.settings.max_body_bytes
    try:
        signal, message = await off_loop(_decode, await request.body(), encoding, kind, signal, limit,
                                         always=bool(encoding))  # small compressed bodies can inflate to much
    except decode.TooLarge as error:
        raise PayloadTooLarge(str(error), field="body") from None
    except Invalid as error:  # OTLP: malformed data is a 400, which exporters do not retry
        raise BadRequest(error.message, field=error.field) from None
    receipt = await _RECEIVERS[signal](request.app.state.ctx, principal, message)
    return Response(decode.response(signal, kind, receipt.rejected, receipt.message), media_type=kind)


def _decode(raw: bytes, encoding: str | None, kind: str, signal: str | None, limit: int) -> tuple[str, Message]:
    body = decode.inflate(raw, encoding, limit)
    if kind == decode.JSON:
        check_depth(body)
    signal = signal or _detect_signal(body, kind)
    return signal, decode.parse(signal, body, kind)


def _detect_signal(body: bytes, kind: str) -> str:
    """For the bare base path: JSON says what it is; protobuf does not."""
    if kind == decode.JSON:
        try:
            keys = json.loads(body or b"{}").keys()
        except (ValueError, AttributeError):
            keys = ()
        if "resourceMetrics" in keys or "resource_metrics" in keys:
            return "metrics"
        if "resourceLogs" in keys or "resource_logs" in keys:
            return "logs"
    raise Invalid("path: post metrics to /v1/metrics and logs to /v1/logs", field="path")


async def metrics(request: Request) -> Response:
    return await _export(request, "metrics")


async def logs(request: Request) -> Response:
    return await _export(request, "logs")


async def bare(request: Request) -> Response:
    return await _export(request, None)


def otlp_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for prefix in ("", "/otlp"):
        routes += [Route(f"{prefix}/v1/metrics", metrics, methods=["POST"]),
                   Route(f"{prefix}/v1/logs", logs, methods=["POST"])]
    routes.append(Route("/otlp", bare, methods=["POST"]))
    return routes
