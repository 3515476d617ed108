"""The example Claude configurations name a real command and real routes."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlparse

import pytest
from starlette.routing import Mount

from fortium_metrics.app import create_app
from fortium_metrics.config import Settings, load_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "claude_config"


def _servers(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())["mcpServers"]


def _route_paths(tmp_path) -> set[str]:
    app = create_app(load_settings(data_dir=tmp_path))
    return {route.path + ("/" if isinstance(route, Mount) else "") for route in app.routes}


def _assert_runs_our_command(entry: dict) -> None:
    """The installed console script (next to this interpreter) has the subcommand."""
    script = Path(sys.executable).parent / entry["command"]
    assert entry["command"] in {s.name for s in entry_points(group="console_scripts")} and script.exists()
    result = subprocess.run([str(script), *entry["args"], "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Run the MCP server on stdio" in result.stdout, result.stderr


def test_mcp_json_has_stdio_http_and_sse_entries_that_exist(tmp_path):
    servers = _servers(".mcp.json")
    assert {entry["type"] for entry in servers.values()} == {"stdio", "http", "sse"}
    assert "fortium-metrics-server" in servers  # the legacy name keeps old permission rules working
    routes = _route_paths(tmp_path)
    for name, entry in servers.items():
        if entry["type"] == "stdio":
            _assert_runs_our_command(entry)
            continue
        url = urlparse(entry["url"])
        assert url.path in routes, (name, url.path)
        assert url.port == Settings.model_fields["port"].default
        assert entry["headers"] == {"Authorization": "Bearer ${FORTIUM_API_KEY}"}
    assert "/messages/" in routes  # where SSE clients post


def test_claude_desktop_config_runs_the_stdio_server():
    servers = _servers("claude_desktop_config.json")
    assert set(servers) == {"fortium-metrics"}
    _assert_runs_our_command(servers["fortium-metrics"])
    assert set(servers["fortium-metrics"]["env"]) == {"FORTIUM_API_URL", "FORTIUM_API_KEY"}


@pytest.mark.parametrize("name", [".mcp.json", "claude_desktop_config.json"])
def test_the_readme_explains_each_file(name):
    assert f"`{name}`" in (EXAMPLES / "README.md").read_text()


def test_an_empty_api_url_from_the_stdio_entry_means_embedded(tmp_path):
    """`${FORTIUM_API_URL:-}` expands to "" when the variable is unset."""
    assert not load_settings(data_dir=tmp_path, api_url="", api_key="").api_url
