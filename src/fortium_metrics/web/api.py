"""REST API: adapters over the services. Parse, authenticate, call one service, render."""
from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..errors import Invalid
from ..ingest import record_events
from .auth import request_principal


async def read_json(request: Request):
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Invalid(f"body: not valid JSON ({error})", field="body") from None


async def metrics_batch(request: Request) -> JSONResponse:
    """POST /api/v1/metrics/batch {"events": [...]} -> {accepted, duplicates, rejected, errors[]}."""
    principal = await request_principal(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise Invalid('events: expected {"events": [ ... ]}', field="events")
    ctx = request.app.state.ctx
    result = await record_events(ctx.ingestor, principal, body["events"], source="rest")
    return JSONResponse(result.model_dump(mode="json"))


def api_routes() -> list[BaseRoute]:
    return [Route("/api/v1/metrics/batch", metrics_batch, methods=["POST"])]
