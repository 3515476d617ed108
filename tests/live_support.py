"""Helpers for the live-update tests: signed-in cookies for a running server, WebSocket clients,
reading until a given message, and calling into the server's own event loop."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect

from fortium_metrics import users
from fortium_metrics.accounts import Accounts
from fortium_metrics.jwt_tokens import TokenKeys
from fortium_metrics.login_guard import LoginGuard
from fortium_metrics.principal import Principal
from rest_support import bearer


async def session_token(store, server, principal: Principal) -> str:
    """An access token the running server accepts (signed with its key), as sign-in would set it."""
    settings = server.app.state.settings
    accounts = Accounts(store, TokenKeys.from_settings(settings), LoginGuard(settings), timedelta(days=1))
    async with store.unit_of_work(Principal.org_admin(principal.organization_id)) as uow:
        user = await users.get_user(uow, principal.user_id)
    return (await accounts.sign_in_user(user, "test")).access_token


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://", 1) + "/ws"


def browser_headers(server, token: str | None, origin: str | None = "same") -> dict[str, str]:
    headers = {}
    if token:
        headers["Cookie"] = f"fm_access={token}"
    if origin:
        headers["Origin"] = server.url if origin == "same" else origin
    return headers


@contextlib.asynccontextmanager
async def live_client(server, token: str, **options) -> AsyncIterator[ClientConnection]:
    """A browser-like client (session cookie, same Origin), past its `hello`."""
    async with connect(ws_url(server), additional_headers=browser_headers(server, token), **options) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
        yield ws


async def next_message(ws: ClientConnection, kind: str | None = None, timeout: float = 10) -> dict:
    """The next message (of `kind`), heartbeats skipped."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "heartbeat" and kind in (None, message["type"]):
                return message


async def ingest(server, key: str, events: list[dict]) -> dict:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.post("/api/v1/metrics/batch", json={"events": events}, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def in_server(server, function: Callable[[], object]) -> object:
    """Run `function` in the server's event loop (its hub is not thread-safe) and return its result."""
    async def call():
        return function()

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), server.loop))


async def wait_until(predicate: Callable[[], object], timeout: float = 15) -> None:
    """Until an asynchronous predicate holds: a condition to wait for, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def silent_client(server, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (a tiny receive
    buffer, so what the server sends piles up at the server)."""
    parts = urlsplit(server.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {server.url}\r\n"
                  f"Cookie: fm_access={token}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock
