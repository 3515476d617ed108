"""Typed, validated events: the one input vocabulary of every entry point (MCP, REST, hooks,
OTLP, importers). A `type` field selects the model; unknown fields are refused, so a typo is an
error that names the field instead of a silently lost value."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

Name = Annotated[str, Field(min_length=1, max_length=200)]
Int32 = 2**31 - 1  # metric_events' integer columns; larger values would wrap around in a binary COPY
Duration = Annotated[float, Field(ge=0, le=86_400_000, description="Milliseconds.")]
Tokens = Annotated[int, Field(ge=0, le=10**10)]
# Every number has a bound, so that no sum over an organisation's events can overflow: the
# largest values allowed, added over billions of events, stay far inside a double (and inside a
# 64-bit integer for counts). Two `cost_usd: 1.7e308` made every organisation-wide summary fail.
Cost = Annotated[float, Field(ge=0, le=1_000_000, description="US dollars, at most 1,000,000 per event.")]
Value = Annotated[float, Field(ge=-1e15, le=1e15, description="Between -10^15 and 10^15.")]


class EventBase(BaseModel):
    # Floats must be finite: JSON has no infinity, so one stored (from 1e400) would break every
    # JSON answer that sums it.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    event_id: Annotated[str, Field(min_length=1, max_length=160)] | None = Field(
        None, description="Client id for idempotency: an event re-sent with the same id counts once. "
        "Without it, a key is derived from the event's content.")
    timestamp: datetime = Field(default_factory=lambda: datetime.now(timezone.utc),
                                description="When it happened (ISO 8601; no offset means UTC).")
    session_id: Annotated[str, Field(max_length=128)] | None = None
    user: Annotated[str, Field(max_length=320)] | None = Field(
        None, description="User id, e-mail or external id, inside the caller's organisation. "
        "Default: the API key's user.")
    team: Annotated[str, Field(max_length=64)] | None = Field(None, description="Team slug or id.")
    project: Annotated[str, Field(max_length=200)] | None = Field(None, description="Project name or id.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Anything else, kept as JSON.")

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; no offset means UTC. ValueError when that instant is outside the
    calendar (9999-12-31T23:00-05:00 is in the year 10000 in UTC).

    Runs once per event. A zero offset (nearly every timestamp) is kept as it is: half the cost
    of converting it."""
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc) if offset else value
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


class SessionStart(EventBase):
    type: Literal["session_start"]
    session_id: Annotated[str, Field(min_length=1, max_length=128)]


class SessionEnd(EventBase):
    type: Literal["session_end"]
    session_id: Annotated[str, Field(min_length=1, max_length=128)]


class ToolExecution(EventBase):
    type: Literal["tool_execution"]
    tool_name: Name
    duration_ms: Duration | None = None
    success: bool | None = Field(True, description="None when the outcome is unknown.")
    error: Annotated[str, Field(max_length=10_000)] | None = None


class AgentInvocation(EventBase):
    type: Literal["agent_invocation"]
    agent_name: Name
    duration_ms: Duration | None = None
    success: bool | None = Field(True, description="None when the outcome is unknown.")
    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None


class CommandExecution(EventBase):
    type: Literal["command"]
    command_name: Name
    duration_ms: Duration | None = None
    success: bool | None = Field(True, description="None when the outcome is unknown.")
    error: Annotated[str, Field(max_length=10_000)] | None = None


class TaskEvent(EventBase):
    type: Literal["task"]
    task_name: Name
    status: Literal["started", "completed", "failed", "cancelled"] = "completed"
    duration_ms: Duration | None = None


class ProductivityMetric(EventBase):
    type: Literal["productivity_metric"]
    metric: Name = Field(description="e.g. commands_per_hour, productivity_score, error_rate.")
    value: Value
    unit: Annotated[str, Field(max_length=50)] | None = None


class TokenUsage(EventBase):
    type: Literal["token_usage"]
    model: Annotated[str, Field(max_length=100)] | None = None
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    cost_usd: Cost | None = None


class CodeChange(EventBase):
    type: Literal["code_change"]
    lines_added: Annotated[int, Field(ge=0, le=Int32)] = 0
    lines_removed: Annotated[int, Field(ge=0, le=Int32)] = 0
    commit: Annotated[str, Field(max_length=100)] | None = None
    pull_request: Annotated[str, Field(max_length=200)] | None = None
    language: Annotated[str, Field(max_length=50)] | None = None


class Prompt(EventBase):
    """A user prompt. Only its length is kept: prompt text is never stored by default."""

    type: Literal["prompt"]
    prompt_length: Annotated[int, Field(ge=0, le=Int32)] | None = None
    command_name: Name | None = Field(None, description="The slash command the prompt ran, e.g. /review (counted as a command).")


class ApiRequest(EventBase):
    """One model API request with its usage. `request_id` makes it the same event whichever
    source reports it (OTLP, transcript, hook), so it is counted once."""

    type: Literal["api_request"]
    request_id: Annotated[str, Field(max_length=160)] | None = None
    model: Annotated[str, Field(max_length=100)] | None = None
    agent: Annotated[str, Field(max_length=200)] | None = Field(None, description="Subagent name; None for the main thread.")
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_read_tokens: Tokens = 0
    cache_write_5m_tokens: Tokens = 0
    cache_write_1h_tokens: Tokens = 0
    cache_write_unsplit_tokens: Tokens = Field(
        0, description="Cache creation reported without a 5m/1h split; priced as 5m.")
    cost_usd: Cost | None = None
    duration_ms: Duration | None = None


class ApiError(EventBase):
    type: Literal["api_error"]
    model: Annotated[str, Field(max_length=100)] | None = None
    status_code: Annotated[int, Field(ge=0, le=999)] | None = None
    error: Annotated[str, Field(max_length=10_000)] | None = None
    attempt: Annotated[int, Field(ge=0, le=1_000_000)] | None = None


class ToolDecision(EventBase):
    type: Literal["tool_decision"]
    tool_name: Name
    decision: Literal["accept", "reject"]
    decision_source: Annotated[str, Field(max_length=100)] | None = None


class RawEvent(EventBase):
    """Anything a source sends that has no model of its own yet; kept, never dropped."""

    type: Literal["raw"]
    name: Name
    value: Value | None = None


Event = Annotated[
    Union[SessionStart, SessionEnd, ToolExecution, AgentInvocation, CommandExecution, TaskEvent,
          ProductivityMetric, TokenUsage, CodeChange, Prompt, ApiRequest, ApiError, ToolDecision, RawEvent],
    Field(discriminator="type"),
]
EVENT_MODELS: dict[str, type[EventBase]] = {
    m.model_fields["type"].annotation.__args__[0]: m
    for m in (SessionStart, SessionEnd, ToolExecution, AgentInvocation, CommandExecution, TaskEvent,
              ProductivityMetric, TokenUsage, CodeChange, Prompt, ApiRequest, ApiError, ToolDecision, RawEvent)
}
event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


NUL, REPLACEMENT = "\x00", "\ufffd"


def without_nul(value: Any) -> Any:
    """`value` (an event as parsed JSON: dicts, lists, strings...) with every U+0000 in its strings
    and keys replaced by U+FFFD; `value` itself when it has none (nearly always).

    PostgreSQL text and jsonb cannot hold U+0000: one such character would abort the transaction,
    and with group commit that transaction also carries other requests' events. Tool inputs and
    outputs can contain it (binary file content), so it is replaced rather than refused — on both
    databases, so an event is stored alike on either."""
    return _replace_nul(value) if _has_nul(value) else value


def _has_nul(value: Any) -> bool:
    kind = type(value)  # exact types first: this runs once per item of every call
    if kind is str:
        return NUL in value
    if kind is dict:
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return any(_has_nul(item) for item in value)
    return isinstance(value, str) and NUL in value


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT)
    if isinstance(value, dict):
        return {_replace_nul(key): _replace_nul(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_nul(item) for item in value]
    return value


def dedup_key(event: EventBase) -> str:
    """`req:<request id>` for API requests (the same request from any source is one event), else
    `id:<client id>`, else `h:<hash of the content>`; ≤ 200 characters in every case."""
    if isinstance(event, ApiRequest) and event.request_id:
        return f"req:{event.request_id}"
    if event.event_id:
        return f"id:{event.event_id}"
    payload = event.model_dump(mode="json", exclude={"event_id"})
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"h:{digest[:40]}"


# How each type lands in a metric_events row: (kind, field naming the row, {field: column}).
# Fields not listed (and not common) are kept in the row's JSON `attributes`.
_TOKENS = {"input_tokens": "input_tokens", "output_tokens": "output_tokens"}
COLUMN_MAP: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "tool_execution": ("tool_execution", "tool_name", {"duration_ms": "duration_ms", "success": "success"}),
    "agent_invocation": ("agent_invocation", "agent_name", {"duration_ms": "duration_ms", "success": "success", **_TOKENS}),
    "command": ("command", "command_name", {"duration_ms": "duration_ms", "success": "success"}),
    "task": ("task", "task_name", {"duration_ms": "duration_ms"}),
    "productivity_metric": ("productivity_metric", "metric", {"value": "value"}),
    "token_usage": ("token_usage", "model", {"model": "model", **_TOKENS, "cache_read_tokens": "cache_read_tokens",
                                             "cache_write_tokens": "cache_write_tokens", "cost_usd": "cost_usd"}),
    "code_change": ("code_change", "language", {"lines_added": "lines_added", "lines_removed": "lines_removed"}),
    "prompt": ("prompt", "command_name", {"prompt_length": "value"}),
    "api_request": ("api_request", "model", {"model": "model", **_TOKENS, "cache_read_tokens": "cache_read_tokens",
                                             "cache_write_5m_tokens": "cache_write_5m_tokens",
                                             "cache_write_1h_tokens": "cache_write_1h_tokens",
                                             "cost_usd": "cost_usd", "duration_ms": "duration_ms"}),
    "api_error": ("api_error", "model", {"model": "model"}),
    "tool_decision": ("tool_decision", "tool_name", {}),
    "raw": ("other", "name", {"value": "value"}),
}
