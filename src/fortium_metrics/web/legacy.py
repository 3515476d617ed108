"""Endpoints old Fortium clients call (shared/docs/formats/legacy-interfaces.md §1, §3, §7).

`POST /api/v1/hooks/tool-metrics` is the one real clients use (`hooks/tool-metrics.js`): any
failure makes them spool the body to a local file, so a well-formed body always gets the old
`201 {"success", "message", "data", "timestamp"}` answer, including a skipped `pre` record or a
re-sent body (counted once). The mapping rules live in `legacy_map.py`. Authentication is the
same bearer API key as the rest of the API (`METRICS_API_TOKEN` holds it); only the hook health
check is public. Errors use our envelope: the old clients look at the status code only.

`POST /mcp/metrics/collect` is the old spec's MCP collection endpoint (never implemented there):
one command or agent event, acknowledged with a `batch_id`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..errors import Invalid
from ..ingest import record_events
from ..principal import Principal
from . import legacy_map
from .auth import request_principal
from .bodies import read_json, validated
from .collect import collect_metrics
from .openapi import Operation, documented

SOURCE = "legacy_hook"
_BODY_FROM_THE_DOC = {
    "event_type": "tool_execution", "timestamp": "2025-09-15T09:20:31-05:00", "tool_name": "Read",
    "session_id": "default-session", "success": True, "execution_time_ms": 42, "user": "alice@a.test",
    "user_id": "default-user", "user_name": "Alice", "organization_id": "1",
    "auth_token": "9f" * 32, "file_path": "/home/alice/src/app.py", "file_size_bytes": 2048,
    "enhanced_activity": {"id": "activity_1757946031000_k2j3h4g5f", "action": {"type": "file_operation", "name": "Read"},
                          "status": "success", "duration_ms": 42, "is_automated": True},
}


def _iso_time(value: str) -> str:
    """Kept as sent (local time with its offset), but it must be one: "0" or "soon" was taken
    as a Unix time or ignored when nothing was recorded."""
    if value:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not an ISO 8601 date and time") from None
    return value


# Empty or absent means now.
_WHEN = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}, {"type": "null"}]}
When = Annotated[str, AfterValidator(_iso_time)]


class _Legacy(BaseModel):
    # Old clients send per-tool extras; they are kept. Strict: JSON false is no productivity score
    # and "yes" no success flag (they were taken as 0.0 and true, while the schema said otherwise).
    model_config = ConfigDict(extra="allow", strict=True)


class LegacyToolMetrics(_Legacy):
    event_type: str | None = Field(None, description="`tool_execution` (default) or `agent_invocation`.")
    timestamp: When | None = Field(None, description="ISO 8601, usually local time with an offset. Default: now.",
                                  json_schema_extra=_WHEN)
    tool_name: str | None = Field(None, description="`pre` is skipped; `post` or none is recorded as tool `unknown`.")
    agent_name: str | None = Field(None, description="For agent records (`event_type: agent_invocation`).")
    session_id: str | None = Field(None, description="Only a UUID makes the event part of a session.")
    success: bool | None = None
    execution_time_ms: float | None = Field(None, description="The hook's own run time: kept as an attribute only.")
    user: str | None = Field(None, description="Attributes the event only when the API key has no user of its own.")
    auth_token: Any = Field(None, description="Dropped before anything else, whatever it holds: never stored, "
                            "logged or echoed.")
    enhanced_activity: dict[str, Any] | None = None
    error_message: str | None = None


class LegacySessionStart(_Legacy):
    session_id: str = Field(min_length=1, max_length=128, description="A UUID; other ids are acknowledged, not recorded.")
    start_time: When | None = Field(None, description="ISO 8601. Default: now.", json_schema_extra=_WHEN)
    user_id: str | None = None
    environment: str | None = None
    git_branch: str | None = None
    working_directory: str | None = None


class LegacySessionEnd(_Legacy):
    session_id: str = Field(min_length=1, max_length=128)
    end_time: When | None = Field(None, description="ISO 8601. Default: now.", json_schema_extra=_WHEN)
    duration_hours: float | None = None
    productivity_score: float | None = Field(None, ge=0, le=10, description="The old 0-10 scale; kept as an attribute.")
    metrics: dict[str, Any] | None = None


class LegacyProductivityData(_Legacy):
    session_id: str = Field(min_length=1, max_length=128)
    productivity_score: float | None = Field(None, ge=0, le=10, description="Recorded as metric legacy_productivity_score.")
    metrics: dict[str, Any] | None = None
    recommendations: list[Any] | None = None
    timestamp: When | None = Field(None, json_schema_extra=_WHEN)


class LegacyAck(BaseModel):
    success: bool
    message: str
    data: dict[str, Any]
    timestamp: str = Field(description="Server time, ISO 8601 with milliseconds and Z.")


def iso(moment: datetime) -> str:
    """JavaScript's toISOString(), which the old clients and envelope used."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ack(message: str, data: dict[str, Any], status: int = 201) -> JSONResponse:
    return JSONResponse({"success": True, "message": message, "data": data,
                         "timestamp": iso(datetime.now(timezone.utc))}, status_code=status)


async def clean_body(request: Request) -> tuple[Principal, dict]:
    """Authenticate, parse, then drop the secrets before the body is used for anything."""
    principal = await request_principal(request)
    body = legacy_map.strip_secrets(await read_json(request))
    if not isinstance(body, dict):
        raise Invalid("body: expected a JSON object", field="body")
    return principal, body


async def record_one(request: Request, principal: Principal, event: dict) -> bool:
    """True when stored now, False for a duplicate; a rejected event is a 422 naming the field."""
    result = await record_events(request.app.state.ctx.ingestor, principal, [event], source=SOURCE)
    if result.errors:
        raise Invalid(result.errors[0].message, field=result.errors[0].field)
    return result.accepted == 1


_TOOL_EXAMPLES = {
    "tool record (G3b, from the doc)": _BODY_FROM_THE_DOC,
    "post record (recorded as tool unknown)": {"event_type": "tool_execution", "timestamp": "2025-09-08T10:15:30-05:00",
                                               "tool_name": "post", "success": True, "execution_time_ms": 57,
                                               "user": "alice", "session_id": "default"},
    "pre record (skipped)": {"event_type": "tool_execution", "timestamp": "2025-09-08T10:15:29-05:00",
                             "tool_name": "pre", "success": True, "execution_time_ms": 12, "session_id": "default"},
    "agent record": {"event_type": "agent_invocation", "timestamp": "2025-09-08T10:16:02-05:00",
                     "agent_name": "frontend-developer", "task_description": "Build the settings page",
                     "success": True, "execution_time_ms": 35},
}


@documented(Operation(
    summary="Legacy hook: one tool or agent record", tag="legacy", body=LegacyToolMetrics, examples=_TOOL_EXAMPLES,
    description="The body `hooks/tool-metrics.js` posts. `auth_token` is dropped first; `pre` records are "
                "acknowledged but not stored; a re-sent body is stored once (`activity_created: false`).",
    responses={201: ("Received (stored, skipped or already stored: see data.activity_created).", LegacyAck)}))
async def tool_metrics(request: Request) -> JSONResponse:
    received = datetime.now(timezone.utc)
    principal, body = await clean_body(request)
    data = validated(LegacyToolMetrics, body).model_dump(exclude_none=True)
    acting_user = data.get("user") if principal.user_id is None else None
    event = legacy_map.tool_metrics_event(data, acting_user)
    created = await record_one(request, principal, event) if event else False
    message = ("Tool metrics received and activity created successfully" if created
               else "Tool metrics received; 'pre' records are not stored" if event is None
               else "Tool metrics received; already recorded")
    return ack(message, {"id": event["event_id"] if event else None, "tool_name": data.get("tool_name"),
                         "agent_name": data.get("agent_name"), "session_id": data.get("session_id"),
                         "activity_created": created, "received_at": iso(received), "processed": True})


@documented(Operation(
    summary="Legacy hook: session start", tag="legacy", body=LegacySessionStart,
    examples={"session start": {"session_id": "0b7e4bd2-3c52-4b7e-9d0e-8f1a2b3c4d5e", "start_time": "2025-09-08T10:00:00-05:00",
                                "user_id": "default-user", "environment": "development", "git_branch": "main",
                                "working_directory": "/home/alice/src/app"}},
    responses={201: ("Received; data.recorded says whether a session was stored now.", LegacyAck)}))
async def session_start(request: Request) -> JSONResponse:
    received = datetime.now(timezone.utc)
    principal, body = await clean_body(request)
    data = validated(LegacySessionStart, body).model_dump(exclude_none=True)
    event = legacy_map.session_start_event(data)
    recorded = await record_one(request, principal, event) if event else False
    return ack("Session start received" + ("" if event else "; not a UUID session id, not recorded"),
               {"id": f"session_{int(received.timestamp() * 1000)}", "session_id": data["session_id"],
                "start_time": data.get("start_time"), "received_at": iso(received), "processed": True, "recorded": recorded})


@documented(Operation(
    summary="Legacy hook: session end", tag="legacy", body=LegacySessionEnd,
    examples={"session end": {"session_id": "0b7e4bd2-3c52-4b7e-9d0e-8f1a2b3c4d5e", "end_time": "2025-09-08T11:30:00-05:00",
                              "duration_hours": 1.5, "productivity_score": 7.5,
                              "metrics": {"commands_executed": 42, "success_rate": 97.6}}},
    responses={201: ("Received; data.recorded says whether the session end was stored now.", LegacyAck)}))
async def session_end(request: Request) -> JSONResponse:
    received = datetime.now(timezone.utc)
    principal, body = await clean_body(request)
    data = validated(LegacySessionEnd, body).model_dump(exclude_none=True)
    event = legacy_map.session_end_event(data)
    recorded = await record_one(request, principal, event) if event else False
    return ack("Session end received" + ("" if event else "; not a UUID session id, not recorded"),
               {"id": f"session_end_{int(received.timestamp() * 1000)}", "session_id": data["session_id"],
                "end_time": data.get("end_time"), "productivity_score": data.get("productivity_score"),
                "received_at": iso(received), "processed": True, "recorded": recorded})


@documented(Operation(
    summary="Legacy hook: productivity data", tag="legacy", body=LegacyProductivityData,
    examples={"productivity": {"session_id": "0b7e4bd2-3c52-4b7e-9d0e-8f1a2b3c4d5e", "productivity_score": 8.2,
                               "metrics": {"commands_per_hour": 14}, "timestamp": "2025-09-08T11:00:00-05:00",
                               "recommendations": [{"priority": "info", "message": "Keep going"}]}},
    responses={201: ("Received; data.recorded is false without a productivity_score.", LegacyAck)}))
async def productivity_data(request: Request) -> JSONResponse:
    received = datetime.now(timezone.utc)
    principal, body = await clean_body(request)
    data = validated(LegacyProductivityData, body).model_dump(exclude_none=True)
    event = legacy_map.productivity_event(data)
    recorded = await record_one(request, principal, event) if event else False
    return ack("Productivity data received" + ("" if event else "; no productivity_score, nothing recorded"),
               {"id": f"productivity_{int(received.timestamp() * 1000)}", "session_id": data["session_id"],
                "productivity_score": data.get("productivity_score"), "received_at": iso(received),
                "processed": True, "recorded": recorded})


_HOOK_PATHS = ("tool-metrics", "session-start", "session-end", "productivity-data", "health")


@documented(Operation(summary="Legacy hook health check", tag="legacy", public=True,
                      responses={200: ("Always healthy while the process answers; see /healthz for the database.", LegacyAck)}))
async def hooks_health(request: Request) -> JSONResponse:
    now = iso(datetime.now(timezone.utc))
    endpoints = {name.replace("-", "_"): f"/api/v1/hooks/{name}" for name in _HOOK_PATHS}
    return ack("Hooks integration is healthy", {"status": "healthy", "service": "claude-hooks-integration",
                                                "timestamp": now, "endpoints": endpoints}, status=200)


def legacy_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/hooks/tool-metrics", tool_metrics, methods=["POST"]),
        Route("/api/v1/hooks/session-start", session_start, methods=["POST"]),
        Route("/api/v1/hooks/session-end", session_end, methods=["POST"]),
        Route("/api/v1/hooks/productivity-data", productivity_data, methods=["POST"]),
        Route("/api/v1/hooks/health", hooks_health, methods=["GET"]),
        Route("/mcp/metrics/collect", collect_metrics, methods=["POST"]),
    ]
