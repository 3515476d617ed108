"""A database that cannot be reached: every HTTP answer is the JSON envelope with 503 and
Retry-After (was a plain-text 500), MCP tools say to retry, and /healthz says so too."""
from __future__ import annotations

import uuid

import httpx
import pytest
from mcp import Client

from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.mcp.server import build_mcp
from fortium_metrics.principal import Principal
from rest_support import asgi_lifespan, bearer

pytestmark = pytest.mark.anyio
KEY = "fmk_abcdefghij_" + "x" * 43  # well formed: the server must look it up to refuse it


@pytest.fixture(params=["postgres", "sqlite"])
def dead_url(request, tmp_path) -> str:
    """PostgreSQL on a port nobody listens on, or an SQLite "file" that is a directory."""
    if request.param == "postgres":
        return "postgresql://fortium_app@127.0.0.1:1/fortium"
    (tmp_path / "not-a-file.db").mkdir()
    return f"sqlite:///{tmp_path / 'not-a-file.db'}"


@pytest.fixture
async def dead_api(dead_url, tmp_path):
    app = create_app(load_settings(database_url=dead_url, data_dir=tmp_path / "data"))
    async with asgi_lifespan(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/summary", None),  # fails in the authentication middleware's key lookup
    ("POST", "/api/v1/metrics/batch", {"events": [{"type": "command", "command_name": "/x"}]}),
    ("POST", "/api/auth/login", {"email": "alice@a.test", "password": "whatever it is"}),  # no key: in the handler
    ("GET", "/api/users", None),
])
async def test_an_unreachable_database_is_a_503_envelope_with_retry_after(dead_api, method, path, body):
    response = await dead_api.request(method, path, json=body, headers=bearer(KEY))
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "retry" in error["message"] and error["request_id"]
    assert "127.0.0.1" not in error["message"] and "not-a-file" not in error["message"]  # nothing about where it is


async def test_health_reports_the_database_down(dead_api):
    alive, ready = await dead_api.get("/healthz"), await dead_api.get("/readyz")
    assert alive.status_code == 200 and alive.json()["database"].startswith("unavailable")  # liveness: no restart
    assert ready.status_code == 503 and "database" in ready.json()["not_ready"]


async def test_mcp_tools_say_to_retry(dead_url, tmp_path):
    ctx = AppContext.build(load_settings(database_url=dead_url, data_dir=tmp_path / "data"))
    principal = Principal.org_admin(uuid.uuid4())
    try:
        async with Client(build_mcp(ctx, principal)) as client:
            result = await client.call_tool("productivity_summary", {})
    finally:
        await ctx.close()
    text = result.content[0].text
    assert result.is_error and "unavailable" in text and "retry" in text, text
