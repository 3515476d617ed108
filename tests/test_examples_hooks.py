"""examples/claude_config/settings*.json name real commands, hook events and routes."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.routing import Route

from fortium_metrics.app import create_app
from fortium_metrics.cli import main
from fortium_metrics.config import load_settings
from fortium_metrics.hooks import _MAPPERS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "claude_config"


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> set[str]:
    app = create_app(load_settings(data_dir=tmp_path_factory.mktemp("d")))
    return {route.path for route in app.routes if isinstance(route, Route)}


def handlers(settings: dict):
    for event, groups in settings["hooks"].items():
        for group in groups:
            for handler in group["hooks"]:
                yield event, handler


@pytest.mark.parametrize("name", ["settings.json", "settings.http-hooks.json"])
def test_every_hook_names_a_known_event_and_a_real_command_or_route(name, paths):
    settings = json.loads((EXAMPLES / name).read_text())
    seen = set()
    for event, handler in handlers(settings):
        assert event in _MAPPERS, event
        seen.add(event)
        if handler["type"] == "command":
            program, command = handler["command"].split()
            assert program == "fortium-metrics" and command in main.commands and handler.get("async") is True
        else:
            assert event != "SessionStart"  # Claude Code allows only command hooks there
            assert urlsplit(handler["url"]).path in paths
            assert handler["headers"]["Authorization"].startswith("Bearer $") and handler["allowedEnvVars"]
        assert handler["timeout"] <= 10
    assert {"SessionStart", "SessionEnd", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "SubagentStop"} <= seen


def test_the_telemetry_block_points_at_the_receiver(paths):
    env = json.loads((EXAMPLES / "settings.json").read_text())["env"]
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1" and env["OTEL_EXPORTER_OTLP_PROTOCOL"] in ("http/protobuf", "http/json")
    base = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).path.rstrip("/")
    assert {f"{base}/v1/metrics", f"{base}/v1/logs"} <= paths  # the exporter appends the signal path
    assert env["OTEL_EXPORTER_OTLP_HEADERS"].startswith("Authorization=Bearer ")


def test_mcp_accepts_the_public_host_behind_a_proxy():
    from fortium_metrics.mcp.http import transport_security

    security = transport_security("0.0.0.0", 8765, "https://metrics.example.com")
    assert {"metrics.example.com", "metrics.example.com:*", "127.0.0.1:*"} <= set(security.allowed_hosts)
    assert "https://metrics.example.com" in security.allowed_origins
    assert "evil.example" not in " ".join(security.allowed_hosts)
