"""The analytics dimensions an event carries, read once at ingest into plain metric_events columns.

Sources name the same thing differently: OTLP attributes say `agent.name`, `skill.name`,
`mcp_server.name`; hooks say `agent_type`; an MCP tool's own name is `mcp__<server>__<tool>`;
transcripts and hooks carry the Claude Code version as `version`. This module is the one place
that knows those spellings. Pure and light (ingest imports it on its hot path).
"""
from __future__ import annotations

import orjson

DIMENSION_COLUMNS = ("agent", "skill", "mcp_server", "plugin", "query_source", "language", "app_version", "labels")
_LENGTHS = {"agent": 200, "skill": 200, "mcp_server": 200, "plugin": 200, "query_source": 100, "language": 50,
            "app_version": 50, "labels": 500}
# Attribute names per dimension, first found wins.
_KEYS = {
    "agent": ("agent.name", "agent_type", "subagent_type"),
    "skill": ("skill.name", "skill_name"),
    "mcp_server": ("mcp_server.name", "mcp_server_name", "server_name"),
    "plugin": ("plugin.name",),
    "query_source": ("query_source",),
    "language": ("language",),
    "app_version": ("app.version", "service.version", "version", "claude_version"),
}
_MCP_PREFIX = "mcp__"


def _text(value, column: str) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:_LENGTHS[column]] or None


def _first(attributes: dict, column: str) -> str | None:
    for key in _KEYS[column]:
        value = _text(attributes.get(key), column)
        if value is not None:
            return value
    return None


def mcp_server_of(tool_name: str | None) -> str | None:
    """`mcp__github__create_issue` -> `github`: an MCP tool names its server."""
    if tool_name and tool_name.startswith(_MCP_PREFIX):
        server = tool_name[len(_MCP_PREFIX):].split("__", 1)[0]
        return server or None
    return None


def labels_text(labels) -> str | None:
    """The source's own labels (OTLP resource attributes such as department or cost_center) as
    canonical JSON text, or None. Values are kept as strings; too long a set is dropped whole
    rather than cut into invalid JSON."""
    if not isinstance(labels, dict) or not labels:
        return None
    flat = {str(k): str(v) for k, v in labels.items() if v is not None and not isinstance(v, (dict, list))}
    if not flat:
        return None
    text = orjson.dumps(flat, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _LENGTHS["labels"] else None


def dimensions(kind: str, name: str | None, fields: dict, attributes: dict) -> tuple:
    """(agent, skill, mcp_server, plugin, query_source, language, app_version, labels) of one
    event: `fields` are its typed fields, `attributes` its free-form ones."""
    agent = _text(fields.get("agent"), "agent") or _first(attributes, "agent")
    if kind == "agent_invocation":
        agent = name
    mcp_server = _first(attributes, "mcp_server")
    if mcp_server is None and kind in ("tool_execution", "tool_decision"):
        mcp_server = mcp_server_of(name)
    language = _text(fields.get("language"), "language") or _first(attributes, "language")
    return (agent, _first(attributes, "skill"), mcp_server, _first(attributes, "plugin"), _first(attributes, "query_source"),
            language, _first(attributes, "app_version"), labels_text(attributes.get("labels")))
