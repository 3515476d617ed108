"""Old Fortium hook bodies -> our typed events (shared/docs/formats/legacy-interfaces.md §1, §7 and
legacy-local-metrics.md §3.4, §6, §7). Pure functions: no I/O, no principal lookups.

The rules, each from a trap the old data is known to contain:
* `auth_token` (the profile token, in plain text) is removed first, at any depth, before the body
  is validated, hashed, stored or echoed in an error.
* Tool name `pre` is skipped (the twin of `post`); `post` or no name becomes tool `unknown`, flagged.
* `execution_time_ms` of hook records is the hook's own run time, not the tool's: the duration is
  stored as unknown and the value kept as `legacy_execution_time_ms`.
* Session ids that are not UUIDs (`default`, `default-session`) are not sessions: the event gets
  no session and keeps the id as `legacy_session_id`.
* Every event id is derived from the cleaned body, so a re-sent body counts once.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

SECRET_FIELDS = frozenset({"auth_token"})
# Fields that become event fields; everything else of the body is kept in `attributes`.
_TOOL_FIELDS = {"event_type", "timestamp", "tool_name", "session_id", "success", "execution_time_ms", "error_message"}
_AGENT_FIELDS = {"event_type", "timestamp", "agent_name", "session_id", "success", "execution_time_ms"}


def strip_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def digest(kind: str, body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{kind}\n{canonical}".encode()).hexdigest()[:40]


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _session(session_id: Any) -> tuple[str | None, dict]:
    if session_id is None or session_id == "":
        return None, {}
    if is_uuid(session_id):
        return str(session_id), {}
    return None, {"legacy_session_id": session_id}


def _common(body: dict, kind: str, acting_user: str | None, known: set[str]) -> dict:
    """Fields every legacy event shares: id, time, session, user, leftovers as attributes."""
    session_id, session_attrs = _session(body.get("session_id"))
    event: dict[str, Any] = {"event_id": f"legacy:{digest(kind, body)}", "session_id": session_id,
                             "attributes": {**{k: v for k, v in body.items() if k not in known}, **session_attrs,
                                            "legacy_source": kind}}
    if body.get("timestamp"):
        event["timestamp"] = body["timestamp"]
    if acting_user:
        event["user"] = acting_user
    if body.get("execution_time_ms") is not None:
        event["attributes"]["legacy_execution_time_ms"] = body["execution_time_ms"]
    return event


def tool_metrics_event(body: dict, acting_user: str | None) -> dict | None:
    """A `/hooks/tool-metrics` body (auth_token already stripped) -> an event, or None to skip.
    `acting_user` is the body's user when the API key has no user of its own, else None."""
    if body.get("event_type") == "agent_invocation":
        return agent_record_event(body, acting_user)
    name = body.get("tool_name")
    if name == "pre":
        return None
    event = _common(body, "tool-metrics", acting_user, _TOOL_FIELDS)
    success = body.get("success", True)
    if name in (None, "", "post"):
        event["attributes"]["flags"] = ["tool_name_missing"]
        if name == "post":  # always success: true with empty input, so the outcome is unknown
            success = None
        name = "unknown"
    event.update(type="tool_execution", tool_name=name, success=success)
    if body.get("error_message"):
        event["error"] = str(body["error_message"])[:10_000]
    return event


def agent_record_event(body: dict, acting_user: str | None) -> dict:
    event = _common(body, "tool-metrics", acting_user, _AGENT_FIELDS)
    event.update(type="agent_invocation", agent_name=body.get("agent_name") or "unknown",
                 success=body.get("success", True))
    if not body.get("agent_name"):
        event["attributes"]["flags"] = ["agent_name_missing"]
    return event


def session_start_event(body: dict) -> dict | None:
    if not is_uuid(body["session_id"]):
        return None
    attributes = {k: v for k, v in body.items() if k not in {"session_id", "start_time"}}
    event = {"type": "session_start", "session_id": str(body["session_id"]),
             "attributes": {**attributes, "legacy_source": "session-start"}}
    if body.get("start_time"):
        event["timestamp"] = body["start_time"]
    return event


def session_end_event(body: dict) -> dict | None:
    if not is_uuid(body["session_id"]):
        return None
    attributes = {"legacy_source": "session-end"}
    for key, value in body.items():
        if key not in {"session_id", "end_time"} and value is not None:
            # productivity_score is 0-10 in the old hooks: labelled so nobody mixes it with ours.
            attributes[f"legacy_{key}"] = value
    event = {"type": "session_end", "session_id": str(body["session_id"]), "attributes": attributes}
    if body.get("end_time"):
        event["timestamp"] = body["end_time"]
    return event


def productivity_event(body: dict) -> dict | None:
    if body.get("productivity_score") is None:
        return None
    session_id, session_attrs = _session(body["session_id"])
    attributes = {k: v for k, v in body.items()
                  if k not in {"session_id", "productivity_score", "timestamp"} and v is not None}
    event = {"type": "productivity_metric", "metric": "legacy_productivity_score",
             "value": body["productivity_score"], "unit": "score_0_10",
             "event_id": f"legacy:{digest('productivity-data', body)}", "session_id": session_id,
             "attributes": {**attributes, **session_attrs, "legacy_source": "productivity-data"}}
    if body.get("timestamp"):
        event["timestamp"] = body["timestamp"]
    return event
