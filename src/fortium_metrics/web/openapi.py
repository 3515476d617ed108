"""The OpenAPI 3.1 document, generated from the app's route table and the pydantic models.

Each REST handler carries an `Operation` (attached with `@documented(...)`): its summary, the
type of its body, its query model, its responses and request examples. `build_document` walks
the app's routes, so a route cannot be served without being documented and the document cannot
describe a route that does not exist (tests/test_rest_openapi.py checks both directions and
validates every request example against the schema it is documented with). Schemas come from
the same pydantic models that parse the requests, so they cannot drift either.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .. import __version__
from .errors import ErrorEnvelope

DOCUMENTED_PREFIXES = ("/api/", "/mcp/metrics/")
REF = "#/components/schemas/{model}"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    description: str = ""
    body: Any = None  # any type pydantic can describe: a model, list[...], a union
    query: type[BaseModel] | None = None
    responses: dict[int, tuple[str, Any]] = field(default_factory=dict)  # status -> (description, type)
    examples: dict[str, Any] = field(default_factory=dict)  # request body examples by name
    public: bool = False  # True: no API key needed
    text_media: dict[int, str] = field(default_factory=dict)  # status -> another media type it may answer (text)
    undocumented: bool = False  # a route served without an Operation of its own (see below)


def documented(operation: Operation) -> Callable:
    def attach(handler: Callable) -> Callable:
        handler.openapi = operation
        return handler
    return attach


def operation_of(route: BaseRoute) -> Operation | None:
    return getattr(getattr(route, "endpoint", None), "openapi", None)


def documented_routes(routes: list[BaseRoute]) -> list[tuple[Route, Operation]]:
    """Every route under the documented prefixes. One without an Operation is still listed (from
    its docstring, flagged `x-undocumented`), so the document never omits something served."""
    return [(route, operation_of(route) or _fallback(route)) for route in routes
            if isinstance(route, Route) and route.path.startswith(DOCUMENTED_PREFIXES)]


def _fallback(route: Route) -> Operation:
    doc = (getattr(route.endpoint, "__doc__", None) or "").strip()
    return Operation(summary=doc.splitlines()[0] if doc else route.name, tag="other", undocumented=True,
                     responses={200: ("Success; see the endpoint's own documentation.", None)})


def route_methods(route: Route) -> list[str]:
    """HEAD is implied by GET in Starlette and in OpenAPI readers alike; it is not listed."""
    return sorted(m.lower() for m in (route.methods or ()) if m != "HEAD")


def build_document(routes: list[BaseRoute]) -> dict:
    pairs = documented_routes(routes)
    schemas, components = _schemas(pairs)
    paths: dict[str, dict] = {}
    for route, operation in pairs:
        for method in route_methods(route):
            paths.setdefault(route.path_format, {})[method] = _operation(route, method, operation, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "fortium-metrics REST API", "version": __version__,
                 "description": "Ingestion and read API. Authenticate with `Authorization: Bearer <API key>`."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "An API key (fmk_...) from `fortium-metrics apikey create`."}},
            "headers": {name: {"schema": {"type": "integer"}, "description": _HEADER_TEXT[name]} for name in RATE_HEADERS},
        },
        "security": [{"apiKey": []}],
    }


_HEADER_TEXT = {
    "X-RateLimit-Limit": "Requests allowed per window for the organisation (FORTIUM_RATE_LIMIT).",
    "X-RateLimit-Remaining": "Requests left in the current moving window.",
    "X-RateLimit-Reset": "Epoch seconds when the oldest counted request leaves the window.",
}


def _schemas(pairs: list[tuple[Route, Operation]]) -> tuple[dict, dict]:
    """All types in one pass, so models shared by several operations are defined once."""
    inputs = []
    for route, operation in pairs:
        key = _key(route)
        if operation.body is not None:
            inputs.append(((key, "body"), "validation", TypeAdapter(operation.body)))
        if operation.query is not None:
            inputs.append(((key, "query"), "validation", TypeAdapter(operation.query)))
        for status, (_, kind) in _responses(operation).items():
            if kind is not None:
                inputs.append(((key, status), "serialization", TypeAdapter(kind)))
    by_key, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    components = definitions.get("$defs", {})
    schemas = {key: schema for (key, _mode), schema in by_key.items()}
    query_models = set()
    for key in [k for k in schemas if k[1] == "query"]:  # parameters are listed one by one, not referenced
        name = schemas[key]["$ref"].rsplit("/", 1)[-1]
        schemas[key] = components[name]
        query_models.add(name)
    return schemas, {name: schema for name, schema in components.items() if name not in query_models}


def _key(route: Route) -> tuple[str, str]:
    """Schemas belong to one route (path and methods): GET and POST of a path are separate routes
    with their own query and body types."""
    return route.path_format, ",".join(route_methods(route))


def _responses(operation: Operation) -> dict[int, tuple[str, Any]]:
    """The operation's own responses plus the ones every operation of its kind can give."""
    common: dict[int, tuple[str, Any]] = {}
    if not operation.public:
        common |= {401: ("Missing, malformed or revoked API key.", ErrorEnvelope),
                   403: ("The API key lacks the scope this needs (ingest or read).", ErrorEnvelope),
                   429: ("Over the organisation's rate limit; see Retry-After.", ErrorEnvelope)}
    if operation.body is not None:
        common |= {413: ("Body over FORTIUM_MAX_BODY_BYTES, or more events than one request may carry.", ErrorEnvelope),
                   415: ("Content-Type is not JSON.", ErrorEnvelope),
                   422: ("Body is not valid JSON or not the documented shape; `field` names the culprit.", ErrorEnvelope)}
    if operation.query is not None:
        common[422] = ("A query parameter is invalid or unknown; `field` names it.", ErrorEnvelope)
    return common | operation.responses


def _operation(route: Route, method: str, operation: Operation, schemas: dict) -> dict:
    key, path = _key(route), route.path_format
    document: dict[str, Any] = {
        "operationId": _operation_id(method, path), "summary": operation.summary, "tags": [operation.tag],
        "parameters": _path_parameters(route) + _query_parameters(schemas.get((key, "query"))),
        "responses": {str(status): _response(status, text, schemas.get((key, status)), operation.public,
                                             operation.text_media.get(status))
                      for status, (text, _) in sorted(_responses(operation).items())},
    }
    if operation.description:
        document["description"] = operation.description
    if operation.public:
        document["security"] = []
    if operation.undocumented:
        document["x-undocumented"] = True
    if operation.body is not None:
        content: dict[str, Any] = {"schema": schemas[(key, "body")]}
        if operation.examples:
            content["examples"] = {name: {"value": value} for name, value in operation.examples.items()}
        document["requestBody"] = {"required": True, "content": {"application/json": content}}
    return document


def _operation_id(method: str, path: str) -> str:
    return method + "_" + re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_")


def _path_parameters(route: Route) -> list[dict]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.param_convertors]


def _query_parameters(schema: dict | None) -> list[dict]:
    if not schema:
        return []
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _response(status: int, text: str, schema: dict | None, public: bool, text_media: str | None = None) -> dict:
    response: dict[str, Any] = {"description": text}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    if text_media is not None:
        response.setdefault("content", {})[text_media] = {"schema": {"type": "string"}}
    if not public and status != 401:
        response["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS}
    return response


@documented(Operation(summary="This OpenAPI 3.1 document", tag="meta", public=True,
                      responses={200: ("The document.", dict[str, Any])}))
async def openapi_json(request: Request) -> JSONResponse:
    # Built once per app: the route table does not change after the app is created.
    document = getattr(request.app.state, "openapi_document", None)
    if document is None:
        document = request.app.state.openapi_document = build_document(request.app.routes)
    return JSONResponse(document)
