"""Recording tools: one per event type, plus a batch. Each builds event dicts for the ingestion
service (via the backend) and nothing else: validation, dedup and storage live in `ingest.py`."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..errors import Invalid
from ..events import EVENT_MODELS, Duration, Name, Tokens
from ..ingest import MAX_BATCH
from .backend import Backend, RecordOutcome
from .errors import tool_error_message
from .models import BatchRecorded, Recorded

SessionId = Annotated[str | None, Field(max_length=128, description="The Claude Code session this belongs to.")]
Project = Annotated[str | None, Field(max_length=200, description="Project or repository name (created on first use).")]
Team = Annotated[str | None, Field(max_length=64, description="Team slug or id (must exist in the organisation).")]
When = Annotated[datetime | None, Field(description="When it happened, ISO 8601 (no offset = UTC). Default: now.")]
Attributes = Annotated[dict[str, Any] | None, Field(description="Anything else worth keeping, stored as JSON.")]
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def new_event(type_: str, **fields: Any) -> dict[str, Any]:
    """An event dict with a fresh client id, so a forwarded or replayed event is stored once."""
    event = {"type": type_, "event_id": str(uuid.uuid4())}
    event.update({key: value for key, value in fields.items() if value is not None})
    return event


def first_error(outcome: RecordOutcome) -> str | None:
    return tool_error_message(Invalid(outcome.errors[0].message)) if outcome.errors else None


async def record_one(backend: Backend, event: dict[str, Any], what: str) -> Recorded:
    """Record a single event; a rejection is a tool error (a batch reports it per item instead)."""
    outcome = await backend.record([event])
    if (error := first_error(outcome)) is not None:
        raise ToolError(error)
    session_id = event.get("session_id")
    if outcome.queued:
        return Recorded(status="queued", session_id=session_id, event_id=event["event_id"],
                        message=f"{what} queued: the server is unreachable; it will be sent automatically")
    if outcome.duplicates:
        return Recorded(status="duplicate", session_id=session_id, event_id=event["event_id"],
                        message=f"{what} was already recorded")
    return Recorded(status="recorded", session_id=session_id, event_id=event["event_id"], message=f"{what} recorded")


def _batch_description() -> str:
    lines = [f"Record up to {MAX_BATCH} events of any type in one call (the efficient way to send many).",
             "Each event is an object with `type` and that type's fields; invalid events are reported per",
             "index and the valid ones are still stored. Re-sending an event with the same `event_id` stores",
             "it once. Common optional fields: event_id, timestamp (ISO 8601), session_id, user, team,",
             "project, attributes (object). Types and their own fields (* = required):"]
    common = {"type", "event_id", "timestamp", "session_id", "user", "team", "project", "attributes"}
    for name, model in EVENT_MODELS.items():
        fields = [f"{f}{'*' if info.is_required() else ''}" for f, info in model.model_fields.items()
                  if f not in common or (f == "session_id" and info.is_required())]
        lines.append(f"- {name}: {', '.join(fields) or '(no own fields)'}")
    return "\n".join(lines)


def register_record_tools(mcp: MCPServer, backend: Backend) -> None:
    @mcp.tool(name="record_session_start", annotations=WRITE)
    async def record_session_start(session_id: SessionId = None, project: Project = None, team: Team = None,
                                   timestamp: When = None, attributes: Attributes = None) -> Recorded:
        """Record that a Claude Code session started. Without session_id one is generated and returned:
        pass it to the other record_* tools and to record_session_end."""
        event = new_event("session_start", session_id=session_id or str(uuid.uuid4()), project=project,
                          team=team, timestamp=timestamp, attributes=attributes)
        return await record_one(backend, event, "session start")

    @mcp.tool(name="record_session_end", annotations=WRITE)
    async def record_session_end(session_id: Annotated[str, Field(min_length=1, max_length=128)],
                                 timestamp: When = None, attributes: Attributes = None) -> Recorded:
        """Record that a session ended (its duration is end minus start). Attributes are merged into the
        session's, e.g. {"completion_reason": "done", "tasks_completed": 3}."""
        event = new_event("session_end", session_id=session_id, timestamp=timestamp, attributes=attributes)
        return await record_one(backend, event, "session end")

    @mcp.tool(name="record_tool_use", annotations=WRITE)
    async def record_tool_use(tool_name: Name, duration_ms: Duration | None = None, success: bool = True,
                              error: Annotated[str | None, Field(max_length=10_000)] = None,
                              session_id: SessionId = None, project: Project = None, team: Team = None,
                              timestamp: When = None, attributes: Attributes = None) -> Recorded:
        """Record one execution of a tool (Read, Edit, Bash, an MCP tool…) with its duration in
        milliseconds and whether it succeeded (give `error` when it did not)."""
        event = new_event("tool_execution", tool_name=tool_name, duration_ms=duration_ms, success=success,
                          error=error, session_id=session_id, project=project, team=team,
                          timestamp=timestamp, attributes=attributes)
        return await record_one(backend, event, f"tool use {tool_name!r}")

    @mcp.tool(name="record_agent_invocation", annotations=WRITE)
    async def record_agent_invocation(agent_name: Name, duration_ms: Duration | None = None, success: bool = True,
                                      input_tokens: Tokens | None = None, output_tokens: Tokens | None = None,
                                      session_id: SessionId = None, project: Project = None, team: Team = None,
                                      timestamp: When = None, attributes: Attributes = None) -> Recorded:
        """Record one invocation of a (sub)agent, e.g. a delegation to `code-reviewer`, with its duration,
        outcome and token counts."""
        event = new_event("agent_invocation", agent_name=agent_name, duration_ms=duration_ms, success=success,
                          input_tokens=input_tokens, output_tokens=output_tokens, session_id=session_id,
                          project=project, team=team, timestamp=timestamp, attributes=attributes)
        return await record_one(backend, event, f"agent invocation {agent_name!r}")

    @mcp.tool(name="record_command", annotations=WRITE)
    async def record_command(command_name: Name, duration_ms: Duration | None = None, success: bool = True,
                             error: Annotated[str | None, Field(max_length=10_000)] = None,
                             session_id: SessionId = None, project: Project = None, team: Team = None,
                             timestamp: When = None, attributes: Attributes = None) -> Recorded:
        """Record one run of a slash command or workflow (e.g. /implement-trd) and its outcome."""
        event = new_event("command", command_name=command_name, duration_ms=duration_ms, success=success,
                          error=error, session_id=session_id, project=project, team=team,
                          timestamp=timestamp, attributes=attributes)
        return await record_one(backend, event, f"command {command_name!r}")

    @mcp.tool(name="record_task", annotations=WRITE)
    async def record_task(task_name: Name,
                          status: Literal["started", "completed", "failed", "cancelled"] = "completed",
                          duration_ms: Duration | None = None, session_id: SessionId = None,
                          project: Project = None, team: Team = None, timestamp: When = None,
                          attributes: Attributes = None) -> Recorded:
        """Record a unit of work (a task from a plan or TRD) changing status: started, completed, failed
        or cancelled. Completed tasks count towards productivity."""
        event = new_event("task", task_name=task_name, status=status, duration_ms=duration_ms,
                          session_id=session_id, project=project, team=team, timestamp=timestamp,
                          attributes=attributes)
        return await record_one(backend, event, f"task {task_name!r}")

    @mcp.tool(name="record_productivity_metric", annotations=WRITE)
    async def record_productivity_metric(metric: Annotated[Name, Field(description="e.g. productivity_score, "
                                                                        "commands_per_hour, error_rate.")],
                                         value: float,
                                         unit: Annotated[str | None, Field(max_length=50)] = None,
                                         session_id: SessionId = None, project: Project = None,
                                         team: Team = None, timestamp: When = None,
                                         attributes: Attributes = None) -> Recorded:
        """Record one named measurement (a score, a rate, a count) at a point in time."""
        event = new_event("productivity_metric", metric=metric, value=value, unit=unit, session_id=session_id,
                          project=project, team=team, timestamp=timestamp, attributes=attributes)
        return await record_one(backend, event, f"metric {metric!r}")

    @mcp.tool(name="record_events", description=_batch_description(), annotations=WRITE)
    async def record_events(events: Annotated[list[dict[str, Any]], Field(description="The events, in order.")]) -> BatchRecorded:
        outcome = await backend.record(events)
        return BatchRecorded(**outcome.model_dump())
