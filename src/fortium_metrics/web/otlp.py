"""OTLP/HTTP receiver routes: POST /v1/metrics and /v1/logs, also under the `/otlp` base path
(OTEL_EXPORTER_OTLP_ENDPOINT=https://host/otlp, to which exporters append /v1/<signal>), and the
bare base path for JSON bodies. Responses follow the OTLP spec: 200 with an Export…ServiceResponse
in the request's content type, `partialSuccess` when some records were rejected."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import BadRequest, Invalid
from ..otlp import decode
from ..otlp.service import receive_logs, receive_metrics
from .auth import request_principal
from .errors import UnsupportedMediaType

_RECEIVERS = {"metrics": receive_metrics, "logs": receive_logs}


async def _export(request: Request, signal: str | None) -> Response:
    principal = await request_principal(request)
    try:
        kind = decode.media_type(request.headers.get("content-type"))
    except decode.UnsupportedMediaType as error:
        raise UnsupportedMediaType(str(error), field="Content-Type") from None
    try:
        body = decode.inflate(await request.body(), request.headers.get("content-encoding"))
        signal = signal or _detect_signal(body, kind)
        message = decode.parse(signal, body, kind)
    except Invalid as error:  # OTLP: malformed data is a 400, which exporters do not retry
        raise BadRequest(error.message, field=error.field) from None
    receipt = await _RECEIVERS[signal](request.app.state.ctx, principal, message)
    return Response(decode.response(signal, kind, receipt.rejected, receipt.message), media_type=kind)


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
