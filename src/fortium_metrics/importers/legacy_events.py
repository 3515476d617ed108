"""Legacy records → typed event dicts (events.py). One function per record shape of §3.

Conventions: only UUID session ids make a session (trap 1; the legacy id is kept as
`legacy_session_id`); hook run times are not tool durations (trap 6: kept as
`legacy_hook_time_ms`, duration unknown); the local user string goes to `legacy_user`, never to
`user` (the runner assigns every event to the person the import is for, §4); scores are kept
with their legacy scale spelled out (trap 8).
"""
from __future__ import annotations

import posixpath
from datetime import tzinfo
from typing import Any

from .base import stable_id
from .legacy_shapes import BadRecord, count, duration_ms, is_uuid, iso, outcome, parse_time, time_text

Event = dict[str, Any]

# The fields each shape maps onto event fields; everything else is kept in `attributes`.
_TOOL_FIELDS = frozenset({"event_type", "timestamp", "tool_name", "success", "execution_time_ms", "user", "session_id",
                          "error", "error_message", "user_id", "user_name", "organization_id", "enhanced_activity"})
_G1_FIELDS = frozenset({"event_type", "timestamp", "session_id", "user", "data", "duration_ms", "success"})
_G1_TOOL, _G1_COMMAND = _G1_FIELDS | {"tool_name"}, _G1_FIELDS | {"command"}
_G1_AGENT = _G1_FIELDS | {"agent_name", "complexity_score"}
_AGENT_FIELDS = frozenset({"event_type", "timestamp", "agent_name", "success", "execution_time_ms", "session_id"})
_HYBRID_FIELDS = frozenset({"timestamp", "user_id", "session_id", "tool_name", "execution_time_ms", "status",
                            "error_message", "source"})
_LANGUAGES = {".py": "Python", ".ts": "TypeScript", ".tsx": "TypeScript", ".js": "JavaScript", ".jsx": "JavaScript",
              ".go": "Go", ".rs": "Rust", ".java": "Java", ".rb": "Ruby", ".md": "Markdown", ".json": "JSON",
              ".yml": "YAML", ".yaml": "YAML", ".sh": "Shell", ".css": "CSS", ".html": "HTML", ".sql": "SQL"}


class Builder:
    """Builds the events of one record; `event_id`s come from the record's canonical hash and
    its occurrence index, never from the file, so copies in several roots are one event."""

    def __init__(self, key: bytes, occurrence: int, origin: str, naive_zone: tzinfo) -> None:
        self.key, self.occurrence, self.origin, self.naive_zone = key.hex(), occurrence, origin, naive_zone
        self._time: str | None = None

    def event_id(self, kind: str) -> str:
        """The key is already a content hash: no second hash per event (a million of them)."""
        return f"legacy:{kind}:{self.key}:{self.occurrence}"

    def event(self, kind: str, record: dict[str, Any], attributes: dict[str, Any], **fields: Any) -> Event:
        """An event of `kind` for `record`: time, session (when it is a UUID) and provenance."""
        session = record.get("session_id")
        if session is not None and not is_uuid(session):
            attributes["legacy_session_id"] = session
            session = None
        attributes["legacy_origin"] = self.origin
        if self._time is None:  # a record's second event (code_change) reuses its time
            self._time = time_text(record.get("timestamp"))
        return {"type": kind, "event_id": self.event_id(kind), "timestamp": self._time, "session_id": session,
                "attributes": attributes, **fields}


def _extras(record: dict[str, Any], mapped: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in mapped and v is not None}


def _name(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRecord(f"{key}: missing or empty")
    return value


def _user(attributes: dict[str, Any], value: Any) -> None:
    if isinstance(value, str) and value:
        attributes["legacy_user"] = value


# --- §3.4 (a)/(b): G2/G3 tool records ---------------------------------------------------------

def hook_tool(b: Builder, record: dict[str, Any], generation: str) -> list[Event]:
    """A Python/Node hook tool record. `post` (the Node hooks' fake name, trap 4) is one call of
    an unknown tool with an unknown outcome; the caller has already skipped `pre`."""
    name = _name(record, "tool_name")
    attributes = _extras(record, _TOOL_FIELDS)
    attributes["legacy_generation"] = generation
    _user(attributes, record.get("user"))
    if record.get("execution_time_ms") is not None:  # the hook's own run time, not the tool's
        attributes["legacy_hook_time_ms"] = record["execution_time_ms"]
    if "user_id" in record or "enhanced_activity" in record:
        _node_identity(attributes, record)
    success = outcome(record.get("success"))
    if name == "post":
        name, success = "unknown", None
        attributes.update(tool_name_missing=True, legacy_tool_name="post")
    error = record.get("error_message") if success is False and isinstance(record.get("error_message"), str) else None
    tool = b.event("tool_execution", record, attributes, tool_name=name, duration_ms=None, success=success, error=error)
    change = _code_change(b, record, tool, name)
    return [tool, change] if change is not None else [tool]


def _node_identity(attributes: dict[str, Any], record: dict[str, Any]) -> None:
    """G3b/G4 identity fields; `organization_id` is always "1" and is not a tenant (trap 11)."""
    if isinstance(record.get("user_id"), str) and record["user_id"] != "default-user":
        attributes["legacy_profile_id"] = record["user_id"]
    if isinstance(record.get("user_name"), str):
        attributes["legacy_user_name"] = record["user_name"]
    activity = record.get("enhanced_activity")
    if isinstance(activity, dict):
        _activity_facts(attributes, activity)


_ACTIVITY_FACTS = (("action", (("type", "action_type"),)),
                   ("target", (("name", "target_name"), ("type", "target_type"))),
                   ("execution_context", (("project_id", "project_id"), ("git_branch", "git_branch"),
                                          ("git_commit", "git_commit"))))


def _activity_facts(attributes: dict[str, Any], activity: dict[str, Any]) -> None:
    """The few facts of G3b's `enhanced_activity` not already in the record (its user, status,
    times and hook metrics repeat it; memory use and tags are about the hook process)."""
    if isinstance(activity.get("id"), str):
        attributes["activity_id"] = activity["id"]
    for outer, names in _ACTIVITY_FACTS:
        part = activity.get(outer)
        if isinstance(part, dict):
            for inner, name in names:
                if part.get(inner) is not None:
                    attributes[name] = part[inner]
    if isinstance(activity.get("error_details"), dict):
        attributes["error_details"] = activity["error_details"]


def _line_counts(record: dict[str, Any]) -> dict[str, Any] | None:
    """Where a record keeps its line counts: the Edit/Write extras, or (Node) only
    `enhanced_activity.metrics`; None when it has none (most records)."""
    if "lines_added" in record or "lines_removed" in record or "lines_written" in record:
        return record
    activity = record.get("enhanced_activity")
    metrics = activity.get("metrics") if isinstance(activity, dict) else None
    if isinstance(metrics, dict) and any(key in metrics for key in ("lines_added", "lines_removed", "lines_written")):
        return metrics
    return None


def _code_change(b: Builder, record: dict[str, Any], tool: Event, tool_name: str) -> Event | None:
    """Lines added/removed from the Edit/Write extras (§7.7)."""
    source = _line_counts(record)
    if source is None:
        return None
    added = (count(source.get("lines_added")) or 0) + (count(source.get("lines_written")) or 0)
    removed = count(source.get("lines_removed")) or 0
    if not added and not removed:
        return None
    path = record.get("file_path") if isinstance(record.get("file_path"), str) else None
    suffix = record.get("file_type") if isinstance(record.get("file_type"), str) else posixpath.splitext(path or "")[1]
    attributes = {"tool_name": tool_name, "tool_event_id": tool["event_id"]}
    if path:
        attributes["file_path"] = path
    change = b.event("code_change", record, attributes, lines_added=added, lines_removed=removed,
                     language=_LANGUAGES.get(suffix.lower()))
    change["session_id"] = tool["session_id"]
    return change


# --- §3.4 (c): agent records written next to Task tool records -------------------------------

def hook_agent(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _extras(record, _AGENT_FIELDS)
    attributes["legacy_generation"] = "G2/G3"
    if record.get("execution_time_ms") is not None:  # the hook's own run time
        attributes["legacy_hook_time_ms"] = record["execution_time_ms"]
    return [b.event("agent_invocation", record, attributes, agent_name=_name(record, "agent_name"),
                    duration_ms=None, success=outcome(record.get("success")))]


# --- §3.4 (d), §3.5: G1 collector records (real durations) ----------------------------------

def _g1_attributes(record: dict[str, Any], mapped: frozenset[str]) -> dict[str, Any]:
    attributes = _extras(record, mapped)
    attributes["legacy_generation"] = "G1"
    _user(attributes, record.get("user"))
    if isinstance(record.get("data"), dict):
        attributes.update({k: v for k, v in record["data"].items() if v is not None})
    return attributes


def g1_tool(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _g1_attributes(record, _G1_TOOL)
    return [b.event("tool_execution", record, attributes, tool_name=_name(record, "tool_name"),
                    duration_ms=duration_ms(record.get("duration_ms")), success=outcome(record.get("success")))]


def g1_command(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _g1_attributes(record, _G1_COMMAND)
    exit_code = record.get("exit_code")
    success = outcome(record.get("success"))
    error = f"exit code {exit_code}" if success is False and isinstance(exit_code, int) else None
    return [b.event("command", record, attributes, command_name=_name(record, "command"),
                    duration_ms=duration_ms(record.get("duration_ms")), success=success, error=error)]


def g1_agent(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _g1_attributes(record, _G1_AGENT)
    if record.get("complexity_score") is not None:
        attributes.update(legacy_complexity_score=record["complexity_score"], legacy_complexity_scale="0-10")
    return [b.event("agent_invocation", record, attributes, agent_name=_name(record, "agent_name"),
                    duration_ms=duration_ms(record.get("duration_ms")), success=outcome(record.get("success")))]


# --- §3.4 (e): hybrid collector lines ----------------------------------------------------------

def hybrid(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _extras(record, _HYBRID_FIELDS)
    attributes.update(legacy_generation="hybrid", legacy_status=record.get("status"))
    _user(attributes, record.get("user_id"))
    if isinstance(record.get("source"), str):
        attributes["legacy_hybrid_source"] = record["source"]
    status = record.get("status")
    success = True if status == "success" else False if status in ("error", "timeout", "cancelled") else None
    error = record.get("error_message") if success is False and isinstance(record.get("error_message"), str) else None
    duration = duration_ms(record.get("execution_time_ms"))
    if isinstance(record.get("tool_name"), str) and record["tool_name"].strip():
        return [b.event("tool_execution", record, attributes, tool_name=record["tool_name"], duration_ms=duration,
                        success=success, error=error)]
    if isinstance(record.get("agent_name"), str) and record["agent_name"].strip():
        attributes.pop("agent_name")
        return [b.event("agent_invocation", record, attributes, agent_name=record["agent_name"],
                        duration_ms=duration, success=success)]
    raise BadRecord("hybrid collector line names neither tool_name nor agent_name")


# --- §3.6: G0 repo-local invocations (naive local times) ---------------------------------------

_G0_FIELDS = frozenset({"agent_name", "invocation_id", "start_time", "end_time", "success", "complexity_score"})
PERF_FIELDS = ("cpu_usage_percent", "memory_usage_mb", "peak_memory_mb", "tokens_used", "error_details")


def g0_invocation(record: dict[str, Any], performance: dict[str, Any] | None, origin: str, zone: tzinfo) -> list[Event]:
    """The last line of an invocation, joined to its performance line. One event per
    invocation id, so a completion line written later updates nothing twice."""
    invocation = _name(record, "invocation_id")
    start = parse_time(record.get("start_time"), zone)
    end = parse_time(record["end_time"], zone) if record.get("end_time") else None
    attributes = _extras(record, _G0_FIELDS)
    attributes.update(legacy_generation="G0", invocation_id=invocation, started_at=iso(start), legacy_origin=origin)
    if end is not None:
        attributes["ended_at"] = iso(end)
    if record.get("complexity_score") is not None:
        attributes.update(legacy_complexity_score=record["complexity_score"], legacy_complexity_scale="1-10")
    duration = (end - start).total_seconds() * 1000 if end is not None else None
    if performance is not None:
        attributes["performance"] = {k: performance[k] for k in PERF_FIELDS if performance.get(k) is not None}
        if performance.get("execution_time_ms") is not None:  # measured by the profiler: preferred
            duration = performance["execution_time_ms"]
    return [{"type": "agent_invocation", "event_id": stable_id("legacy", "g0_invocation", invocation),
             "timestamp": iso(start), "session_id": None, "agent_name": _name(record, "agent_name"),
             "duration_ms": duration_ms(duration), "success": outcome(record.get("success")), "attributes": attributes}]


# --- §3.8: shapes that exist only in specs -----------------------------------------------------

def spec_tool(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _extras(record, frozenset({"tool", "timestamp", "success", "added", "removed"}))
    attributes["spec_shape"] = True
    tool = b.event("tool_execution", record, attributes, tool_name=_name(record, "tool"), duration_ms=None,
                   success=outcome(record.get("success")))
    added, removed = count(record.get("added")) or 0, count(record.get("removed")) or 0
    if not added and not removed:
        return [tool]
    change = b.event("code_change", record, {"tool_name": tool["tool_name"], "spec_shape": True}, lines_added=added,
                     lines_removed=removed)
    return [tool, change]


def spec_agent(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _extras(record, frozenset({"agent", "timestamp", "success", "duration_ms"}))
    attributes["spec_shape"] = True
    return [b.event("agent_invocation", record, attributes, agent_name=_name(record, "agent"),
                    duration_ms=duration_ms(record.get("duration_ms")), success=outcome(record.get("success")))]


def spec_command_start(b: Builder, record: dict[str, Any]) -> list[Event]:
    attributes = _extras(record, frozenset({"event", "timestamp", "command", "user", "session_id"}))
    attributes.update(spec_shape=True, legacy_event="command_start")
    _user(attributes, record.get("user"))
    return [b.event("command", record, attributes, command_name=_name(record, "command"), success=None)]


def unknown(b: Builder, record: dict[str, Any], fallback_time: str) -> list[Event]:
    """A shape §5 does not know: kept whole as a raw event, never dropped."""
    event = {"type": "raw", "event_id": b.event_id("raw"), "name": "legacy_unknown_record",
             "timestamp": fallback_time, "attributes": {"record": record, "legacy_origin": b.origin}}
    try:
        event["timestamp"] = iso(parse_time(record.get("timestamp")))
    except BadRecord:
        pass  # no usable time of its own: the file's modification time stands in
    return [event]


# --- §3.1–3.3: session start and end -----------------------------------------------------------

def session_start(session: str, moment: str, record: dict[str, Any], origin: str, is_open: bool) -> Event:
    """`origin` says where the start came from: init, stream, summary or first_event."""
    attributes: dict[str, Any] = {"start_source": origin, "legacy_open": is_open}
    if origin in ("init", "stream"):
        _user(attributes, record.get("user"))
        if isinstance(record.get("working_directory"), str):
            attributes["cwd"] = record["working_directory"]
        if isinstance(record.get("git_branch"), str) and record["git_branch"] != "unknown":
            attributes["git_branch"] = record["git_branch"]
        attributes["legacy_generation"] = "G2" if _utc_z(record) else "G3a"
    elif origin == "first_event":
        attributes["legacy_generation"] = "G1" if record.get("event_type") in ("tool", "command", "agent") else "events"
    return {"type": "session_start", "event_id": stable_id("legacy", "session_start", session),
            "timestamp": moment, "session_id": session, "attributes": attributes}


def _utc_z(record: dict[str, Any]) -> bool:
    """Python (G2) wrote UTC with `Z`; Node (G3a) local time with an offset."""
    value = record.get("start_time") or record.get("timestamp")
    return isinstance(value, str) and value.endswith("Z")


def session_end(session: str, moment: str, record: dict[str, Any], origin: str) -> Event:
    """`origin`: summary (accepted, trap 2), stream (a session_end line without any summary) or
    last_event (a G1 collector session, bounded by its own events)."""
    attributes: dict[str, Any] = {"end_source": origin, "legacy_open": False}
    if origin in ("summary", "stream"):
        score = record.get("productivity_score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            attributes.update(legacy_productivity_score=score, legacy_productivity_score_100=round(score * 10, 2))
        for key in ("trend", "duration_hours", "metrics", "performance", "final_metrics"):
            if record.get(key) is not None:
                attributes[f"legacy_{key}"] = record[key]
    return {"type": "session_end", "event_id": stable_id("legacy", "session_end", session),
            "timestamp": moment, "session_id": session, "attributes": attributes}
