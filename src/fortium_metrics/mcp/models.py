"""Structured results of the tools (their output schemas). Module level on purpose: the SDK
cannot evaluate return annotations that name classes defined inside a function."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..analytics import ActivityItem, NamedStat, SessionMetrics
from ..ingest import ItemError


class Recorded(BaseModel):
    status: Literal["recorded", "duplicate", "queued"] = Field(
        description="recorded: stored now; duplicate: stored before; queued: the server was unreachable, "
        "kept in the local spool and sent automatically, in order, when it is back.")
    session_id: str | None = None
    event_id: str | None = None
    message: str


class BatchRecorded(BaseModel):
    accepted: int = Field(description="Stored now.")
    duplicates: int = Field(description="Already stored before (same event_id or content); counted once.")
    rejected: int = Field(description="Invalid; see errors (index = position in `events`).")
    queued: int = Field(0, description="Valid but not delivered yet (server unreachable); sent automatically.")
    errors: list[ItemError] = Field(default_factory=list)


class Stats(BaseModel):
    kind: Literal["tool", "agent"]
    start: datetime
    end: datetime
    items: list[NamedStat] = Field(description="Busiest first.")


class Sessions(BaseModel):
    sessions: list[SessionMetrics]


class Activity(BaseModel):
    items: list[ActivityItem] = Field(description="Newest first.")


# -- legacy shapes (fortium-metrics-server v1, tool set B) ---------------------------------------
class LegacyRecorded(BaseModel):
    success: bool
    session_id: str | None = None
    message: str


class LegacySessionEnded(BaseModel):
    success: bool
    summary: SessionMetrics | None = None
    message: str


class LegacyToolRecorded(BaseModel):
    success: bool
    alerts: list[str] = Field(default_factory=list)
    message: str


class LegacyToolMetrics(BaseModel):
    tool_name: str | None
    days: int
    tools: list[NamedStat]
    total_executions: int


class LegacySessionMetrics(BaseModel):
    sessions: list[SessionMetrics]
    total_sessions: int
