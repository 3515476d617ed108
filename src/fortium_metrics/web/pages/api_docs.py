"""GET /api/docs: the REST API reference, browsable. Swagger UI (npm `swagger-ui-dist`, bundled by
frontend/build.mjs into web/static) draws /api/v1/openapi.json; nothing comes from another site."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..openapi import Operation, documented
from .templating import render

SPEC_URL = "/api/v1/openapi.json"


@documented(Operation(summary="This reference, browsable (HTML)", tag="meta", public=True,
                      responses={200: ("An HTML page drawing the OpenAPI document.", None)},
                      text_media={200: "text/html"}))
async def api_docs(request: Request) -> HTMLResponse:
    return render(request, "api_docs.html", spec_url=SPEC_URL)
