"""Helpers shared by the MCP tests: a real uvicorn server (its own thread, event loop and store)
and the SDK's real clients over Streamable HTTP and SSE."""
from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings

TRANSPORTS = ("streamable_http", "sse")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """create_app served by uvicorn in a background thread. The app builds its own store in the
    server's event loop: a store is never shared across event loops."""

    def __init__(self, database_url: str, data_dir: Path, port: int | None = None, wrap=None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        settings = load_settings(database_url=database_url, data_dir=data_dir, port=self.port)
        app = create_app(settings)
        self.app = wrap(app) if wrap else app
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    async def start(self, timeout: float = 30.0) -> "LiveServer":
        self.thread.start()
        with anyio.fail_after(timeout):
            while not self.server.started:
                assert self.thread.is_alive(), "uvicorn stopped during start-up (see the log above)"
                await anyio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        await anyio.to_thread.run_sync(self.thread.join, 30)
        assert not self.thread.is_alive(), "uvicorn did not stop within 30 s"


@contextlib.asynccontextmanager
async def connect(transport: str, base: str, key: str) -> AsyncIterator[ClientSession]:
    """An initialised MCP client session with `Authorization: Bearer <key>`."""
    headers = {"Authorization": f"Bearer {key}"}
    if transport == "sse":
        async with sse_client(f"{base}/sse", headers=headers) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=30) as session:
                await session.initialize()
                yield session
        return
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=30) as session:
                await session.initialize()
                yield session


async def ok(session: ClientSession, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    result = await session.call_tool(tool, arguments or {})
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def fails(session: ClientSession, tool: str, arguments: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail; the error text the model reads."""
    result = await session.call_tool(tool, arguments or {})
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    return result.content[0].text


def tool_counts(stats: dict[str, Any]) -> dict[str, int]:
    return {item["name"]: item["count"] for item in stats["items"]}


class BatchLog:
    """Wraps an ASGI app and notes the event ids of every POST /api/v1/metrics/batch, in arrival
    order, as soon as the body is read (before the app answers)."""

    def __init__(self) -> None:
        self.event_ids: list[str] = []

    def wrap(self, app):
        async def logged(scope, receive, send):
            if scope["type"] != "http" or scope["path"] != "/api/v1/metrics/batch":
                return await app(scope, receive, send)
            body = bytearray()

            async def tap():
                message = await receive()
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    self.event_ids.extend(event.get("event_id") for event in json.loads(body)["events"])
                return message

            return await app(scope, tap, send)

        return logged


def stdio_params(data_dir: Path, home: Path, **env: str) -> StdioServerParameters:
    """`fortium-metrics mcp` as Claude Code launches it, with a controlled git e-mail and data dir."""
    gitconfig = home / ".gitconfig"
    gitconfig.parent.mkdir(parents=True, exist_ok=True)
    gitconfig.write_text("[user]\n\temail = Dev@Example.com\n")
    return StdioServerParameters(
        command=sys.executable, args=["-m", "fortium_metrics.cli", "mcp", *env.pop("args", "").split()],
        env={"FORTIUM_DATA_DIR": str(data_dir), "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
             "HOME": str(home), **env},
        cwd=str(home))


@contextlib.asynccontextmanager
async def stdio_session(params: StdioServerParameters, log: Path) -> AsyncIterator[ClientSession]:
    with open(log, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=60) as session:
                await session.initialize()
                yield session
