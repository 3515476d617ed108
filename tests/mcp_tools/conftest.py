"""Fixtures for the MCP tests: a real uvicorn server and the transport to test."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mcp_tools.mcp_support import TRANSPORTS, LiveServer


@pytest.fixture
async def live(backend, tmp_path, keys) -> AsyncIterator[LiveServer]:
    """A running server on the test's database (after `keys` made Alice's, Bob's and Charlie's keys)."""
    server = await LiveServer(backend.url, tmp_path / "server").start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param
