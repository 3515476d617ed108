"""Claude Code hook payloads -> typed events. Pure: used by the HTTP hook endpoint (server side)
and by `fortium-metrics hook` (client side, before spooling), so it imports only the standard
library: the command hook runs on every tool call (tests/test_hook_startup.py checks it).

Hook input carries no timestamp: the caller passes when it was captured. Idempotency keys follow
the hooks doc: tool executions on `tool_use_id`, sessions on `session_id`, prompts on
`prompt_id`, subagent runs on `agent_id`. Prompt text, tool input/output, messages and summaries
are never kept: only names, outcomes, durations and sizes.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from .ids import stable_id


def _base(payload: dict, captured_at: datetime) -> dict:
    event: dict = {"timestamp": captured_at.astimezone(timezone.utc).isoformat()}
    if isinstance(payload.get("session_id"), str):
        event["session_id"] = payload["session_id"][:128]
    cwd = payload.get("cwd")
    if isinstance(cwd, str) and cwd:
        event["project"] = project_name(cwd)[:200] or None
    return {k: v for k, v in event.items() if v is not None}


def project_name(cwd: str) -> str:
    """The last component of `cwd`, as pathlib.PurePath(cwd).name gives it (pathlib costs the hook
    several milliseconds of imports): separators and `.` components ignored, drive or root alone
    is no name."""
    path = os.path.splitdrive(cwd)[1]
    if os.altsep:
        path = path.replace(os.altsep, os.sep)
    parts = [part for part in path.split(os.sep) if part not in ("", ".")]
    return parts[-1] if parts else ""


def _id(payload: dict, *parts: object) -> str:
    return stable_id("hook", payload.get("session_id"), payload.get("hook_event_name"), *parts)


def _content_id(payload: dict) -> str:
    """For hooks without an id of their own: the whole payload, hashed (a redelivery is the same
    payload; two turns differ in prompt id or message). The text itself is never stored."""
    return _id(payload, json.dumps(payload, sort_keys=True, default=str))


def _context(payload: dict, *keys: str) -> dict:
    return {k: payload[k] for k in ("permission_mode", "agent_id", "agent_type", *keys)
            if isinstance(payload.get(k), (str, int, float, bool))}


def to_event(payload: dict, captured_at: datetime) -> dict | None:
    """The event for one hook payload, or None when the hook carries nothing to count."""
    name = payload.get("hook_event_name")
    base = _base(payload, captured_at)
    mapper = _MAPPERS.get(name)
    if mapper is not None:
        return mapper(payload, base)
    return {**base, "type": "raw", "name": f"hook.{name or 'unknown'}", "event_id": _content_id(payload),
            "attributes": _context(payload)}


# A session hook has no time or id of its own (its time is when it was received): the payload's
# hash is its id, so a redelivered one is a duplicate instead of moving the session's end.
def _session_start(p: dict, base: dict) -> dict:
    return {**base, "type": "session_start", "event_id": _content_id(p),
            "attributes": _context(p, "source", "model", "session_title")}


def _session_end(p: dict, base: dict) -> dict:
    return {**base, "type": "session_end", "event_id": _content_id(p), "attributes": _context(p, "reason")}


def _prompt(p: dict, base: dict) -> dict:
    prompt = p.get("prompt")
    return {**base, "type": "prompt", "prompt_length": len(prompt) if isinstance(prompt, str) else None,
            "event_id": _id(p, p["prompt_id"]) if p.get("prompt_id") else _content_id(p),
            "attributes": _context(p, "prompt_id")}


def _tool(p: dict, base: dict, success: bool) -> dict:
    duration = p.get("duration_ms")
    event = {**base, "type": "tool_execution", "tool_name": str(p.get("tool_name") or "unknown")[:200],
             "success": success, "duration_ms": float(duration) if isinstance(duration, (int, float)) else None,
             "event_id": _id(p, p["tool_use_id"]) if p.get("tool_use_id") else _content_id(p),
             "attributes": _context(p, "tool_use_id", "is_interrupt")}
    if not success and isinstance(p.get("error"), str):
        event["error"] = p["error"][:500]
    response = p.get("tool_response")
    if isinstance(response, dict):  # Agent tool: the subagent's usage, numbers only
        event["attributes"].update({k: response[k] for k in ("totalTokens", "totalDurationMs", "totalToolUseCount", "resolvedModel")
                                    if isinstance(response.get(k), (int, float, str))})
    return event


def _subagent_stop(p: dict, base: dict) -> dict:
    return {**base, "type": "agent_invocation", "agent_name": str(p.get("agent_type") or "unknown")[:200],
            "success": None, "event_id": _id(p, p["agent_id"]) if p.get("agent_id") else _content_id(p),
            "attributes": _context(p)}


def _raw(name: str, *keys: str):
    def mapper(p: dict, base: dict) -> dict:
        return {**base, "type": "raw", "name": name, "value": 1,
                "event_id": _content_id(p),
                "attributes": _context(p, "prompt_id", *keys)}
    return mapper


_MAPPERS = {
    "SessionStart": _session_start,
    "SessionEnd": _session_end,
    "UserPromptSubmit": _prompt,
    "PreToolUse": lambda p, base: None,  # the call may still be denied: counted at PostToolUse
    "PostToolUse": lambda p, base: _tool(p, base, True),
    "PostToolUseFailure": lambda p, base: _tool(p, base, False),
    "SubagentStart": _raw("subagent.start"),
    "SubagentStop": _subagent_stop,
    "Stop": _raw("turn.completed"),
    "StopFailure": _raw("turn.failed", "error"),
    "PreCompact": _raw("compaction", "trigger"),
    "PostCompact": lambda p, base: None,  # the same compaction as PreCompact; its summary is text
    "Notification": _raw("notification", "notification_type"),
}
