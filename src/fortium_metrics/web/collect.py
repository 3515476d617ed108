"""`POST /mcp/metrics/collect`: the old spec's collection endpoint (legacy-interfaces.md §3).

The old service never implemented it; the body is the spec's. One body is one fact: a command
execution when `command` is given (the agent that ran it kept as an attribute), else an agent
invocation. The event id and the `batch_id` are derived from the body, so a re-sent body is
counted once and acknowledged with the same `batch_id`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..errors import Invalid
from ..ingest import record_events
from .auth import request_principal
from .bodies import read_json, validated
from .legacy_map import digest, strip_secrets
from .openapi import Operation, documented

SOURCE = "mcp_collect"


def _command_or_agent(text: str) -> dict:
    return {"required": [text], "properties": {text: {"type": "string", "minLength": 1}}}


class CollectRequest(BaseModel):
    # `command` or `agent_name` (collect_event decides which fact it is): said in the schema too
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "anyOf": [_command_or_agent("command"), _command_or_agent("agent_name")]})
    session_id: str | None = Field(None, max_length=128)
    user_identifier: str | None = Field(None, max_length=255, description="E-mail or id of the user; default the API key's.")
    agent_name: str | None = Field(None, max_length=200)
    command: str | None = Field(None, max_length=200, description="Slash command; without it the body is an agent invocation.")
    execution_time_ms: StrictFloat | None = Field(None, ge=0, le=86_400_000)
    success: StrictBool = True
    error_details: str | None = Field(None, max_length=10_000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = Field(None, description="ISO 8601. Default: now.")


class CollectAck(BaseModel):
    success: bool
    batch_id: str = Field(description="Derived from the body: the same body always gets the same id.")
    event_id: str
    accepted: int
    duplicates: int


def collect_event(body: CollectRequest, key: str) -> dict:
    event: dict[str, Any] = {"event_id": f"collect:{key}", "session_id": body.session_id, "user": body.user_identifier,
                             "duration_ms": body.execution_time_ms, "success": body.success,
                             "attributes": dict(body.metadata)}
    if body.timestamp is not None:
        event["timestamp"] = body.timestamp.isoformat()
    if body.command:
        event.update(type="command", command_name=body.command, error=body.error_details)
        if body.agent_name:
            event["attributes"]["agent_name"] = body.agent_name
        return event
    if not body.agent_name:
        raise Invalid("command: give `command` (a command execution) or `agent_name` (an agent invocation)", field="command")
    if body.error_details:
        event["attributes"]["error_details"] = body.error_details
    event.update(type="agent_invocation", agent_name=body.agent_name)
    return event


@documented(Operation(
    summary="Collect one command or agent execution (old MCP spec body)", tag="legacy", body=CollectRequest,
    # No user_identifier: the session of the examples is the caller's, and an item carrying
    # another person's session is refused (ingest.py, session ownership).
    examples={"command": {"session_id": "0b7e4bd2-3c52-4b7e-9d0e-8f1a2b3c4d5e",
                          "agent_name": "tech-lead-orchestrator", "command": "/plan-product", "execution_time_ms": 5300,
                          "success": True, "error_details": None, "metadata": {"claude_version": "2.0.1"},
                          "timestamp": "2025-09-15T14:20:31Z"},
              "agent": {"agent_name": "code-reviewer", "execution_time_ms": 1200, "success": False,
                        "error_details": "timeout", "metadata": {}, "timestamp": "2025-09-15T14:22:00Z"}},
    responses={201: ("Stored now.", CollectAck), 200: ("Already stored (same body).", CollectAck)}))
async def collect_metrics(request: Request) -> JSONResponse:
    principal = await request_principal(request)
    raw = strip_secrets(await read_json(request))
    body = validated(CollectRequest, raw)
    key = digest("mcp-collect", body.model_dump(mode="json"))
    event = collect_event(body, key)
    result = await record_events(request.app.state.ctx.ingestor, principal, [event], source=SOURCE)
    if result.errors:
        raise Invalid(result.errors[0].message, field=result.errors[0].field)
    ack = CollectAck(success=True, batch_id=key[:32], event_id=event["event_id"],
                     accepted=result.accepted, duplicates=result.duplicates)
    return JSONResponse(ack.model_dump(), status_code=201 if result.accepted else 200)
