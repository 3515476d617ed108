"""REST ingestion: adapters over `ingest.record_events`. Parse, authenticate, call, render.

* `POST /api/v1/metrics/batch` `{"events": [...]}` (any mix of types) answers 200 with the counts
  whatever they are; the MCP forwarder depends on exactly that.
* The typed endpoints (`/api/v1/metrics/tool-executions`, ...) take one event object or a list;
  the path gives the type (an item naming another type is rejected). Status: 201 when every event
  was stored now, 422 when every event was rejected (the error envelope plus the counts, so the
  first reason is in `error` and all of them in `errors`), 200 otherwise (duplicates, partly
  rejected, or an empty list).
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, Field, ValidationError, create_model
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..errors import Invalid
from ..events import (AgentInvocation, CodeChange, CommandExecution, Event, EventBase, ProductivityMetric,
                      SessionEnd, SessionStart, TaskEvent, TokenUsage, ToolExecution)
from ..ingest import MAX_BATCH, IngestResult, ItemError, record_events, record_valid_events
from .auth import request_principal
from .bodies import check_batch_size, loads, off_loop, read_json, read_json_bytes
from .errors import ErrorBody, error_body
from .legacy import legacy_routes
from .openapi import Operation, documented, openapi_json
from .analytics_api import analytics_routes
from .reads import read_routes

SOURCE = "rest"


class BatchRequest(BaseModel):
    events: list[Event] = Field(description="Up to 5000 events of any types, each with its `type`.")


class BatchBody(BaseModel):
    """The documented body: an item that is no valid event does not fail the request, it is
    reported by index in the 200 answer, so the schema does not make it invalid either."""

    events: list[Event | Any] = Field(max_length=MAX_BATCH, description=(
        f"Up to {MAX_BATCH} events of any types, each with its `type` (see `Event`). Each is validated on "
        "its own: the valid ones are stored, the others listed in `errors` by index."))


def parse_valid_batch(raw: bytes) -> list[EventBase] | None:
    """The events of a batch body when every one is valid, or None. pydantic-core reads the bytes
    straight into the models (no intermediate dicts): the fast path. On None the caller parses the
    body and calls record_events, which names each error. A body that may hold U+0000 (JSON can
    only write it as an escape) also takes that path, which replaces it (events.without_nul)."""
    if b"\\u0000" in raw:
        return None
    try:
        return BatchRequest.model_validate_json(raw).events
    except ValidationError:
        return None


class RejectedResult(IngestResult):
    """422 from a typed endpoint: the error envelope and the full result together."""

    error: ErrorBody


@documented(Operation(
    summary="Record a batch of events of any types", tag="ingest", body=BatchBody,
    responses={200: ("Counts; invalid items are listed in `errors` by index.", IngestResult)},
    examples={"mixed": {"events": [
        {"type": "session_start", "session_id": "4f9e0c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "timestamp": "2025-09-15T14:00:00Z"},
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": 12, "event_id": "ex-batch-1",
         "session_id": "4f9e0c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "timestamp": "2025-09-15T14:01:00Z"}]}},
))
async def metrics_batch(request: Request) -> JSONResponse:
    """POST /api/v1/metrics/batch {"events": [...]} -> {accepted, duplicates, rejected, errors[]}."""
    principal = await request_principal(request)
    raw = await read_json_bytes(request)
    ingestor = request.app.state.ctx.ingestor
    events = await off_loop(parse_valid_batch, raw)
    if events is not None:  # the usual case: every event valid, validated straight from the bytes
        check_batch_size(events)
        result = await record_valid_events(ingestor, principal, events, source=SOURCE)
    else:  # something is wrong: this path names each error
        body = await off_loop(loads, raw)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise Invalid('events: expected {"events": [ ... ]}', field="events")
        check_batch_size(body["events"])
        result = await record_events(ingestor, principal, body["events"], source=SOURCE)
    return JSONResponse(result.model_dump(mode="json"))


def ingest_response(request: Request, result: IngestResult, total: int) -> JSONResponse:
    body = result.model_dump(mode="json")
    if total and result.accepted == total:
        return JSONResponse(body, status_code=201)
    if total and result.rejected == total:
        first = result.errors[0]
        message = first.message if total == 1 else f"all {total} events were rejected; first (index {first.index}): {first.message}"
        envelope = error_body(request, "invalid", message, first.field)
        return JSONResponse({**envelope, **body}, status_code=422, headers={"x-request-id": envelope["error"]["request_id"]})
    return JSONResponse(body)


def typed_items(body: Any, event_type: str) -> tuple[list[Any], list[int], list[ItemError]]:
    """(items to record with their type set, their indexes in the body, errors for items of another type)."""
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise Invalid(f"body: expected a {event_type} event object or a list of them", field="body")
    check_batch_size(body)
    items, indexes, errors = [], [], []
    for index, item in enumerate(body):
        named = item.get("type") if isinstance(item, dict) and item.get("type") is not None else event_type
        if named != event_type:
            errors.append(ItemError(index=index, field="type",
                                    message=f"type: this endpoint records {event_type} events (got {named!r})"))
            continue
        items.append({**item, "type": event_type} if isinstance(item, dict) else item)
        indexes.append(index)
    return items, indexes, errors


async def record_typed(request: Request, event_type: str) -> tuple[IngestResult, int]:
    principal = await request_principal(request)
    body = await read_json(request)
    items, indexes, mismatched = typed_items(body, event_type)
    result = await record_events(request.app.state.ctx.ingestor, principal, items, source=SOURCE)
    for error in result.errors:
        error.index = indexes[error.index]
    result.errors = sorted(result.errors + mismatched, key=lambda e: e.index)
    result.rejected = len({e.index for e in result.errors})
    return result, len(indexes) + len(mismatched)


def _input_model(model: type[EventBase]) -> type[BaseModel]:
    """The documented body of a typed endpoint: the event model with `type` optional."""
    event_type = model.model_fields["type"].annotation.__args__[0]
    return create_model(f"{model.__name__}Input", __base__=model,
                        type=(Optional[Literal[event_type]], Field(None, description="Implied by the path.")))


def typed_endpoint(path: str, model: type[EventBase], example: dict) -> Route:
    event_type = model.model_fields["type"].annotation.__args__[0]
    body_type = _input_model(model)

    @documented(Operation(
        summary=f"Record {event_type} events (one object or a list)", tag="ingest", body=body_type | list[body_type],
        responses={201: ("Every event was stored now.", IngestResult),
                   200: ("Some were duplicates or rejected (see `errors`), or the list was empty.", IngestResult),
                   422: ("Every event was rejected: the error envelope plus the counts.", RejectedResult)},
        examples={"one": example, "list": [example, {**example, "event_id": example["event_id"] + "-b"}]},
    ))
    async def endpoint(request: Request) -> JSONResponse:
        result, total = await record_typed(request, event_type)
        return ingest_response(request, result, total)

    endpoint.__name__ = f"record_{event_type}"
    return Route(f"/api/v1/metrics/{path}", endpoint, methods=["POST"])


_AT = "2025-09-15T14:20:31Z"
_SESSION = "4f9e0c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
TYPED: list[tuple[str, type[EventBase], dict]] = [
    ("sessions/start", SessionStart, {"session_id": _SESSION, "timestamp": _AT, "project": "fortium-metrics",
                                      "event_id": "ex-session-start", "attributes": {"git_branch": "main"}}),
    ("sessions/end", SessionEnd, {"session_id": _SESSION, "timestamp": "2025-09-15T15:05:00Z", "event_id": "ex-session-end"}),
    ("tool-executions", ToolExecution, {"tool_name": "Edit", "duration_ms": 84, "success": True, "session_id": _SESSION,
                                        "timestamp": _AT, "event_id": "ex-tool-1", "attributes": {"file_path": "src/app.py"}}),
    ("agent-invocations", AgentInvocation, {"agent_name": "code-reviewer", "duration_ms": 5400, "input_tokens": 1200,
                                            "output_tokens": 300, "timestamp": _AT, "event_id": "ex-agent-1"}),
    ("commands", CommandExecution, {"command_name": "/execute-tasks", "duration_ms": 61000, "success": True,
                                    "timestamp": _AT, "event_id": "ex-command-1"}),
    ("tasks", TaskEvent, {"task_name": "Add REST API", "status": "completed", "duration_ms": 3_600_000,
                          "timestamp": _AT, "event_id": "ex-task-1"}),
    ("productivity", ProductivityMetric, {"metric": "commands_per_hour", "value": 14.5, "unit": "per_hour",
                                          "timestamp": _AT, "event_id": "ex-productivity-1"}),
    ("token-usage", TokenUsage, {"model": "claude-sonnet-4", "input_tokens": 15000, "output_tokens": 2200,
                                 "cache_read_tokens": 9000, "cost_usd": 0.081, "timestamp": _AT, "event_id": "ex-tokens-1"}),
    ("code-changes", CodeChange, {"lines_added": 120, "lines_removed": 14, "language": "python", "commit": "9c1e2f0",
                                  "timestamp": _AT, "event_id": "ex-code-1"}),
]


def ingest_routes() -> list[BaseRoute]:
    return [Route("/api/v1/metrics/batch", metrics_batch, methods=["POST"]),
            *(typed_endpoint(path, model, example) for path, model, example in TYPED)]


def api_routes() -> list[BaseRoute]:
    """Every REST route: ingestion, reads, the legacy endpoints and the OpenAPI document."""
    return [*ingest_routes(), *read_routes(), *analytics_routes(), *legacy_routes(),
            Route("/api/v1/openapi.json", openapi_json, methods=["GET"])]

