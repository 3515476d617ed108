"""The Claude Code configuration the pages hand out, filled in with this server's URL (and, in
`settings.json`, the new key: Claude Code does not expand variables in `env`). The same shapes
as examples/claude_config/ (tests/test_admin_pages.py checks events, commands and routes)."""
from __future__ import annotations

import json
from dataclasses import dataclass

# The hook events the `fortium-metrics hook` command records (hooks.py); tool events for every tool.
HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure", "SubagentStop", "Stop",
               "StopFailure", "PreCompact", "Notification", "SessionEnd")
TOOL_EVENTS = {"PostToolUse", "PostToolUseFailure"}


@dataclass(frozen=True)
class Snippets:
    mcp_json: str
    settings_json: str
    shell: str  # the environment for the stdio forwarder and the `claude mcp add` commands
    otlp_env: str


def mcp_servers(url: str) -> dict:
    auth = {"Authorization": "Bearer ${FORTIUM_API_KEY}"}
    return {"mcpServers": {
        "fortium-metrics": {"type": "stdio", "command": "fortium-metrics", "args": ["mcp"],
                            "env": {"FORTIUM_API_URL": url, "FORTIUM_API_KEY": "${FORTIUM_API_KEY}"}},
        "fortium-metrics-server": {"type": "http", "url": f"{url}/mcp", "headers": auth},
        "fortium-metrics-sse": {"type": "sse", "url": f"{url}/sse", "headers": auth},
    }}


def otlp_env(url: str, key: str) -> dict[str, str]:
    return {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": url,
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {key}", "FORTIUM_API_URL": url,
            "FORTIUM_API_KEY": key}


def settings(url: str, key: str) -> dict:
    def group(event: str) -> dict:
        hook = {"type": "command", "command": "fortium-metrics hook", "async": True, "timeout": 5}
        return {"matcher": "*", "hooks": [hook]} if event in TOOL_EVENTS else {"hooks": [hook]}

    return {"env": otlp_env(url, key), "hooks": {event: [group(event)] for event in HOOK_EVENTS}}


def snippets(url: str, key: str) -> Snippets:
    url = url.rstrip("/")
    shell = (f"export FORTIUM_API_URL={url}\nexport FORTIUM_API_KEY={key}\n"
             f"claude mcp add --transport http fortium-metrics-server {url}/mcp "
             f"--header \"Authorization: Bearer $FORTIUM_API_KEY\"")
    env = "\n".join(f"export {name}={json.dumps(value) if ' ' in value else value}"
                    for name, value in otlp_env(url, key).items())
    return Snippets(json.dumps(mcp_servers(url), indent=2), json.dumps(settings(url, key), indent=2), shell, env)
