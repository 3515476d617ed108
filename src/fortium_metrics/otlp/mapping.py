"""Claude Code telemetry -> our typed events (dicts for ingest.record_events).

Identity: the tenant always comes from the API key. The user is the key's user; only an
organisation-level key takes `user.email` from the payload. Team/project labels come from the
resource first (OTEL_RESOURCE_ATTRIBUTES), then from the point or record.
Metrics: per-request usage is counted from `api_request` events, so `token.usage`, `cost.usage`,
`commit.count`, `pull_request.count` and `code_edit_tool.decision` are kept as raw metric points
(never summed twice); `lines_of_code.count` becomes code changes, `active_time.total`
productivity metrics, `session.count` session starts.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from ..importers.base import stable_id
from .decode import attributes

# Resource keys that describe the process, not the team: never treated as labels.
_PROCESS_KEYS = ("service.", "os.", "host.", "telemetry.", "process.", "wsl.")
_PROMPT_TEXT_KEYS = ("prompt", "response", "tool_input", "tool_parameters", "body")
_DROPPED_EVENTS = {"api_request_body", "api_response_body"}  # whole conversations: never stored


@dataclass(frozen=True)
class Point:
    metric: str
    series: str  # identity of the series: metric + all point and resource attributes
    start_ns: int
    time_ns: int
    value: float
    cumulative: bool
    attrs: dict
    labels: dict


def _time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat()


def _labels(resource_attrs: dict) -> dict:
    return {k: v for k, v in resource_attrs.items() if not k.startswith(_PROCESS_KEYS)}


def metric_points(request) -> Iterator[Point]:
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        labels = _labels(resource)
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                data_field = metric.WhichOneof("data")
                if data_field not in ("sum", "gauge"):
                    continue  # Claude Code sends only sums; histograms would need their own model
                data = getattr(metric, data_field)
                cumulative = data_field == "sum" and data.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                for point in data.data_points:
                    attrs = {**attributes(point.attributes), **labels}
                    value = point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
                    series = hashlib.sha256(json.dumps([metric.name, sorted(attrs.items()), sorted(resource.items())],
                                                       default=str).encode()).hexdigest()[:40]
                    yield Point(metric.name, series, point.start_time_unix_nano, point.time_unix_nano, value,
                                cumulative, attrs, labels)


def _common(attrs: dict, labels: dict, time_ns: int, key_has_user: bool) -> dict:
    event = {"timestamp": _time(time_ns), "session_id": attrs.get("session.id")}
    team = labels.get("team.id") or attrs.get("team.id")
    if team:
        event["team"] = str(team)
    project = attrs.get("vcs.repository.name") or labels.get("project")
    if project:
        event["project"] = str(project)
    email = attrs.get("user.email")
    if email and not key_has_user:
        event["user"] = str(email)
    return {k: v for k, v in event.items() if v is not None}


def with_labels(event: dict | None, labels: dict) -> dict | None:
    """The resource's own labels (department, cost_center, team.id...) kept together under
    `attributes.labels`, so analytics can group by them (dimensions.py)."""
    if event is not None and labels:
        event["attributes"] = {**(event.get("attributes") or {}), "labels": labels}
    return event


def point_event(point: Point, delta: float, key_has_user: bool) -> dict | None:
    """The event for one metric point's delta, or None when there is nothing to record."""
    return with_labels(_point_event(point, delta, key_has_user), point.labels)


def _point_event(point: Point, delta: float, key_has_user: bool) -> dict | None:
    if delta == 0:
        return None
    name = point.metric.removeprefix("claude_code.")
    event = _common(point.attrs, point.labels, point.time_ns, key_has_user)
    event["event_id"] = stable_id("otlp-metric", point.series, point.start_ns, point.time_ns)
    extra = {k: v for k, v in point.attrs.items() if k not in ("session.id", "user.email")}
    if name == "lines_of_code.count":
        field = "lines_added" if point.attrs.get("type") == "added" else "lines_removed"
        return {**event, "type": "code_change", field: int(round(delta)), "attributes": extra}
    if name == "active_time.total":
        return {**event, "type": "productivity_metric", "metric": f"active_time.{point.attrs.get('type', 'total')}",
                "value": delta, "unit": "s", "attributes": extra}
    if name == "session.count" and event.get("session_id"):
        return {**event, "type": "session_start", "timestamp": _time(point.start_ns or point.time_ns),
                "attributes": {"start_type": point.attrs.get("start_type"), "source": "otlp"}}
    if name in _COUNTS:  # commits and pull requests made through Claude Code: counts to sum
        return {**event, "type": "productivity_metric", "metric": _COUNTS[name], "value": delta, "unit": "count",
                "attributes": extra}
    return {**event, "type": "raw", "name": point.metric, "value": delta, "attributes": extra}


_COUNTS = {"commit.count": "commits", "pull_request.count": "pull_requests"}


def log_events(request, key_has_user: bool) -> Iterator[dict | None]:
    """One item per log record: an event dict, or None for a record we deliberately drop."""
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        labels = _labels(resource)
        for scope in resource_logs.scope_logs:
            for record in scope.log_records:
                attrs = {**attributes(record.attributes), **labels}
                name = _event_name(record, attrs)
                if name in _DROPPED_EVENTS:
                    yield None
                    continue
                time_ns = record.time_unix_nano or record.observed_time_unix_nano
                event = _common(attrs, labels, time_ns, key_has_user)
                event["event_id"] = stable_id("otlp-log", attrs.get("session.id"), attrs.get("event.sequence"), name,
                                              time_ns if attrs.get("event.sequence") is None else "")
                yield with_labels(_typed(name, attrs, event), labels)


def _event_name(record, attrs: dict) -> str:
    name = attrs.get("event.name")
    if not name and record.body.WhichOneof("value") == "string_value":
        name = record.body.string_value
    name = name or getattr(record, "event_name", "") or "unknown"
    return str(name).removeprefix("claude_code.")


def _keep(attrs: dict, *used: str) -> dict:
    skip = {"session.id", "user.email", "event.name", *used, *_PROMPT_TEXT_KEYS}
    return {k: v for k, v in attrs.items() if k not in skip}


def _int(value) -> int | None:
    return None if value in (None, "") else int(float(value))


def _typed(name: str, a: dict, event: dict) -> dict:
    if name == "user_prompt":
        command = str(a["command_name"])[:200] if a.get("command_name") not in (None, "") else None
        return {**event, "type": "prompt", "prompt_length": _int(a.get("prompt_length")), "command_name": command,
                "attributes": _keep(a, "prompt_length", "command_name")}
    if name == "subagent_completed":
        return {**event, "type": "agent_invocation", "agent_name": str(a.get("agent_type") or "unknown")[:200],
                "success": None, "output_tokens": None,
                "duration_ms": float(a["duration_ms"]) if a.get("duration_ms") not in (None, "") else None,
                "attributes": _keep(a, "agent_type", "duration_ms")}
    if name == "api_request":
        source = a.get("query_source")
        return {**event, "type": "api_request", "request_id": a.get("request_id"), "model": a.get("model"),
                "agent": None if source in (None, "repl_main_thread", "compact", "main") else str(source),
                "input_tokens": _int(a.get("input_tokens")) or 0, "output_tokens": _int(a.get("output_tokens")) or 0,
                "cache_read_tokens": _int(a.get("cache_read_tokens")) or 0,
                # OTLP has no 5 min / 1 h split: kept as unsplit writes (transcripts carry the split).
                "cache_write_unsplit_tokens": _int(a.get("cache_creation_tokens")) or 0,
                "cost_usd": float(a["cost_usd"]) if a.get("cost_usd") not in (None, "") else None,
                "duration_ms": float(a["duration_ms"]) if a.get("duration_ms") not in (None, "") else None,
                "attributes": _keep(a, "request_id", "model", "input_tokens", "output_tokens", "cache_read_tokens",
                                    "cache_creation_tokens", "cost_usd", "duration_ms")}
    if name == "api_error":
        return {**event, "type": "api_error", "model": a.get("model"), "status_code": _int(a.get("status_code")),
                "error": str(a["error"]) if a.get("error") is not None else None, "attempt": _int(a.get("attempt")),
                "attributes": _keep(a, "model", "status_code", "error", "attempt")}
    if name == "tool_decision":
        return {**event, "type": "tool_decision", "tool_name": a.get("tool_name") or "unknown",
                "decision": "reject" if a.get("decision") == "reject" else "accept",
                "decision_source": a.get("source"), "attributes": _keep(a, "tool_name", "decision", "source")}
    if name == "tool_result":
        return {**event, "type": "tool_execution", "tool_name": a.get("tool_name") or "unknown",
                "success": str(a.get("success")).lower() == "true",
                "duration_ms": float(a["duration_ms"]) if a.get("duration_ms") not in (None, "") else None,
                "error": a.get("error_type"), "attributes": _keep(a, "tool_name", "success", "duration_ms", "error_type")}
    return {**event, "type": "raw", "name": f"claude_code.{name}", "attributes": _keep(a)}
