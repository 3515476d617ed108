"""The tools of the old fortium-metrics-server, with their old names, argument shapes and result
shapes (docs/formats/legacy-interfaces.md §2.1, §2.2), mapped onto the same services.

The old implementations were broken (collect_metrics always failed validation, query_dashboard
called a missing method); these do what their schemas promised.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from .. import analytics
from ..analytics import Filters, Window
from ..events import Duration, Name
from .backend import Backend
from .models import LegacyRecorded, LegacySessionEnded, LegacySessionMetrics, LegacyToolMetrics, LegacyToolRecorded
from .query_tools import READ
from .record_tools import WRITE, first_error, new_event, record_one

TIMEFRAMES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
SLOW_TOOL_MS = 30_000


class _Open(BaseModel):
    # The old schemas documented these keys but accepted any object: keep the extras as attributes.
    model_config = ConfigDict(extra="allow")

    def as_attributes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class CollectContext(_Open):
    claude_session: Annotated[str | None, Field(max_length=128)] = None
    agent_used: Annotated[str | None, Field(max_length=200)] = None
    delegation_pattern: dict[str, Any] | None = None


class SessionMetadata(_Open):
    project_name: Annotated[str | None, Field(max_length=200)] = None
    project_type: str | None = None
    claude_version: str | None = None
    user_timezone: str | None = None


class EndMetadata(_Open):
    completion_reason: str | None = None
    tasks_completed: Annotated[int | None, Field(ge=0)] = None
    satisfaction_score: Annotated[int | None, Field(ge=1, le=10)] = None


class ToolContext(_Open):
    input_size: Annotated[int | None, Field(ge=0)] = None
    output_size: Annotated[int | None, Field(ge=0)] = None
    complexity_score: float | None = None
    framework: str | None = None
    language: str | None = None


def render(summary: dict[str, Any], timeframe: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"timeframe": timeframe, "metrics": summary}, indent=2)
    rows = [(name, "-" if value is None else str(value)) for name, value in summary.items()]
    if fmt == "markdown":
        return "\n".join([f"### Fortium metrics, last {timeframe}", "", "| metric | value |", "|---|---|",
                          *(f"| {name} | {value} |" for name, value in rows)])
    width = max(len(name) for name, _ in rows)
    return "\n".join([f"Fortium metrics, last {timeframe}", "-" * (width + 20),
                      *(f"{name.ljust(width)}  {value}" for name, value in rows)])


def select_metrics(summary: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    if not wanted:
        return summary
    unknown = [name for name in wanted if name not in summary]
    if unknown:
        raise ToolError(f"invalid input: metrics: unknown {', '.join(unknown)}. Known: {', '.join(summary)}")
    return {name: summary[name] for name in wanted}


def tool_alerts(tool_name: str, execution_time_ms: float, status: str) -> list[str]:
    alerts = []
    if status != "success":
        alerts.append(f"{tool_name} ended with status {status}")
    if execution_time_ms > SLOW_TOOL_MS:
        alerts.append(f"{tool_name} took {execution_time_ms:.0f} ms (slower than {SLOW_TOOL_MS // 1000} s)")
    return alerts


def register_legacy_tools(mcp: MCPServer, backend: Backend) -> None:
    @mcp.tool(name="collect_metrics", annotations=WRITE)
    async def collect_metrics(command_name: Name, execution_time_ms: Duration, success: bool,
                              context: CollectContext | None = None) -> str:
        """(Legacy fortium-metrics-server tool; prefer record_command.) Record one command execution, and
        the agent it delegated to when context.agent_used is given."""
        context = context or CollectContext()
        attributes = context.model_dump(exclude_none=True, exclude={"claude_session", "agent_used"})
        command = new_event("command", command_name=command_name, duration_ms=execution_time_ms, success=success,
                            session_id=context.claude_session, attributes=attributes)
        events = [command]
        if context.agent_used:
            events.append(new_event("agent_invocation", agent_name=context.agent_used, duration_ms=execution_time_ms,
                                    success=success, session_id=context.claude_session,
                                    attributes={"command_name": command_name}))
        outcome = await backend.record(events)
        if (error := first_error(outcome)) is not None:
            raise ToolError(error)
        queued = " (queued: the server is unreachable; it will be sent automatically)" if outcome.queued else ""
        return f"Metric collected successfully. ID: {command['event_id']}{queued}"

    @mcp.tool(name="query_dashboard", annotations=READ)
    async def query_dashboard(timeframe: Literal["1h", "24h", "7d", "30d"],
                              metrics: Annotated[list[str] | None, Field(description=(
                                  "Only these metrics, e.g. [\"sessions\", \"tool_success_rate\"]. Default: all."))] = None,
                              format: Literal["json", "ascii", "markdown"] = "json") -> str:
        """(Legacy fortium-metrics-server tool; prefer productivity_summary.) The organisation's dashboard
        totals for the last hour, day, week or month, as JSON, an ASCII table or Markdown."""
        end = datetime.now(timezone.utc)
        window = Window(start=end - TIMEFRAMES[timeframe], end=end)
        summary = await backend.read(lambda uow: analytics.productivity_summary(uow, window, Filters()))
        data = summary.model_dump(mode="json", exclude={"start", "end"})
        return render(select_metrics(data, metrics), timeframe, format)

    @mcp.tool(name="record-session-start", annotations=WRITE)
    async def record_session_start_legacy(metadata: SessionMetadata | None = None) -> LegacyRecorded:
        """(Legacy; prefer record_session_start.) Start a session and return its generated session_id.
        metadata: project_name, project_type, claude_version, user_timezone, anything else."""
        metadata = metadata or SessionMetadata()
        event = new_event("session_start", session_id=str(uuid.uuid4()), project=metadata.project_name,
                          attributes=metadata.as_attributes())
        recorded = await record_one(backend, event, "session start")
        return LegacyRecorded(success=True, session_id=recorded.session_id, message=recorded.message)

    @mcp.tool(name="record-session-end", annotations=WRITE)
    async def record_session_end_legacy(session_id: Annotated[str, Field(min_length=1, max_length=128)],
                                        end_metadata: EndMetadata | None = None) -> LegacySessionEnded:
        """(Legacy; prefer record_session_end.) End a session and return its summary.
        end_metadata: completion_reason, tasks_completed, satisfaction_score (1-10), anything else."""
        attributes = (end_metadata or EndMetadata()).as_attributes()
        recorded = await record_one(backend, new_event("session_end", session_id=session_id, attributes=attributes),
                                    "session end")
        summary = None
        if not backend.remote:  # a forwarder has no local data; the server's session_metrics has it
            summary = await backend.read(lambda uow: analytics.session_metrics(uow, session_id))
        return LegacySessionEnded(success=True, summary=summary, message=recorded.message)

    @mcp.tool(name="record-tool-usage", annotations=WRITE)
    async def record_tool_usage(tool_name: Name, execution_time_ms: Duration,
                                status: Literal["success", "error", "timeout", "cancelled"],
                                context: ToolContext | None = None) -> LegacyToolRecorded:
        """(Legacy; prefer record_tool_use.) Record one tool execution. context: input_size, output_size,
        complexity_score, framework, language, session_id, anything else."""
        attributes = {"status": status, **(context or ToolContext()).as_attributes()}
        session_id = attributes.pop("session_id", None)
        event = new_event("tool_execution", tool_name=tool_name, duration_ms=execution_time_ms,
                          success=status == "success", error=None if status == "success" else status,
                          session_id=str(session_id) if session_id else None, attributes=attributes)
        recorded = await record_one(backend, event, f"tool use {tool_name!r}")
        return LegacyToolRecorded(success=True, alerts=tool_alerts(tool_name, execution_time_ms, status),
                                  message=recorded.message)

    @mcp.tool(name="get-session-metrics", annotations=READ)
    async def get_session_metrics() -> LegacySessionMetrics:
        """(Legacy; prefer session_metrics.) Metrics of the organisation's most recent sessions."""
        sessions = await backend.read(lambda uow: analytics.recent_sessions(uow, 10))
        return LegacySessionMetrics(sessions=sessions, total_sessions=len(sessions))

    @mcp.tool(name="get-tool-metrics", annotations=READ)
    async def get_tool_metrics(tool_name: Annotated[str | None, Field(max_length=200)] = None,
                               days: Annotated[int, Field(ge=1, le=90)] = 7) -> LegacyToolMetrics:
        """(Legacy; prefer tool_stats.) Per-tool executions, success rate and durations over the last
        `days` days, for one tool or all."""
        window = Window.last(days)
        stats = await backend.read(lambda uow: analytics.named_stats(uow, "tool_execution", window, Filters(), 100))
        if tool_name:
            stats = [stat for stat in stats if stat.name == tool_name]
        return LegacyToolMetrics(tool_name=tool_name, days=days, tools=stats,
                                 total_executions=sum(stat.count for stat in stats))
