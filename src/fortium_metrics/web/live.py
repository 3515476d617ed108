"""`WebSocket /ws`: live updates for the signed-in dashboard (frontend/src/live.ts).

Who may connect: the signed-in browser session (the `fm_access` cookie, verified by the same
authentication middleware as every page) or a bearer credential, whose principal may read metrics.
The `Origin` must be this server's own (the Host the client reached, or FORTIUM_PUBLIC_URL): a page
of another site cannot use a visitor's cookie to listen in (cross-site WebSocket hijacking). A
browser always sends `Origin`; without one, only a bearer credential is accepted. Refusals happen
before the handshake completes, with the JSON error envelope (401 or 403).

Once connected, a client receives `hello`, then `metric_ingested`, `dashboard_update` and
`alert_triggered` messages of its rooms (web/live_hub.py), and a `heartbeat` every
FORTIUM_WS_HEARTBEAT_SECONDS. Close codes: 4008 too slow (it stopped reading), 4401 the session
ended (the access token expired or was revoked: renew it and reconnect), 4429 over
FORTIUM_WS_MAX_PER_USER. The credential is checked again when the access token expires (API keys
every FORTIUM_ACCESS_TOKEN_MINUTES), so a connection never outlives its sign-in; rooms are fixed
for the connection's life.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlsplit

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ..errors import Forbidden, Unauthorized
from ..permissions import live_rooms
from .auth import CredentialVerifier, PrincipalToken
from .errors import error_response
from .live_hub import TOO_MANY, LiveConnection, LiveHub, TooManyConnections, rooms_of

SESSION_ENDED = 4401
HEARTBEAT = orjson.dumps({"type": "heartbeat"}).decode()
CLOSE_WAIT = 1.0  # seconds a close frame may take to leave; a client that does not read gets none


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(websocket: WebSocket) -> set[str]:
    settings = websocket.app.state.settings
    origins = set()
    host = websocket.headers.get("host")
    if host:
        origins.add(f"{'https' if websocket.url.scheme == 'wss' else 'http'}://{host}".lower())
    if settings.public_url:
        origins.add(_origin(settings.public_url))
    return origins


def origin_refusal(websocket: WebSocket, token: PrincipalToken | None) -> str | None:
    origin = websocket.headers.get("origin")
    if origin is None:
        if token is not None and not token.via_cookie:
            return None
        return "Origin: missing; browsers send it, other clients authenticate with a bearer header"
    if origin.lower() not in own_origins(websocket):
        return f"Origin: {origin!r} is not this site; live updates are for its own pages"
    return None


async def deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(websocket, status, code, message))
    else:  # the server cannot answer with a body: a plain refusal (HTTP 403)
        await websocket.close(1008)


async def live_socket(websocket: WebSocket) -> None:
    token = getattr(websocket.scope.get("user"), "access_token", None)
    token = token if isinstance(token, PrincipalToken) else None
    refusal = origin_refusal(websocket, token)
    if refusal:
        return await deny(websocket, 403, "forbidden", refusal)
    if token is None:
        return await deny(websocket, 401, "unauthorized", "sign in first: live updates need a signed-in session")
    ctx, hub = websocket.app.state.ctx, websocket.app.state.hub
    try:
        async with ctx.store.unit_of_work(token.principal) as uow:
            teams, every_team = await live_rooms(uow)
    except Forbidden as error:
        return await deny(websocket, 403, "forbidden", error.message)
    try:
        connection = hub.join(token.principal, rooms_of(token.principal, teams, every_team), websocket.send_text)
    except TooManyConnections as error:
        await websocket.accept()
        return await websocket.close(TOO_MANY, str(error))
    try:
        await websocket.accept()
        await serve(websocket, connection, token.token)
    finally:
        hub.leave(connection)
    if connection.closing.is_set():  # after leaving: a client that does not read gets no close frame
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(connection.close_code, connection.close_reason), CLOSE_WAIT)


async def serve(websocket: WebSocket, connection: LiveConnection, credential: str) -> None:
    settings = websocket.app.state.settings
    principal = connection.principal
    connection.offer(orjson.dumps({"type": "hello", "organization_id": principal.organization_id,
                                   "heartbeat_seconds": settings.ws_heartbeat_seconds}).decode())
    tasks = [asyncio.create_task(work) for work in (
        connection.pump(), _read_until_closed(websocket), _heartbeats(connection, settings.ws_heartbeat_seconds),
        _guard(websocket, connection, credential), connection.closing.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # also collects a send that failed


async def _read_until_closed(websocket: WebSocket) -> None:
    """Clients have nothing to say; what they send is read (so their pings are answered) and dropped."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _heartbeats(connection: LiveConnection, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        connection.offer(HEARTBEAT)


def _checked_until(websocket: WebSocket, credential: str) -> float:
    """When to verify the credential again: an access token's expiry, an API key's next check."""
    ctx = websocket.app.state.ctx
    if credential.count(".") == 2:
        try:
            return float(ctx.accounts.keys.decode(credential)["exp"])
        except Unauthorized:
            return time.time()
    return time.time() + ctx.settings.access_token_minutes * 60


async def _guard(websocket: WebSocket, connection: LiveConnection, credential: str) -> None:
    ctx = websocket.app.state.ctx
    while True:
        await asyncio.sleep(max(1.0, _checked_until(websocket, credential) - time.time()))
        try:
            await CredentialVerifier(ctx.store, ctx.accounts).resolve(credential)
        except Unauthorized as error:
            connection.drop(SESSION_ENDED, f"session ended ({error.message}); renew it and reconnect"[:120])
            return


def live_routes() -> list[WebSocketRoute]:
    return [WebSocketRoute("/ws", live_socket)]


def build_hub(ctx) -> LiveHub:
    return LiveHub(ctx.bus, ctx.settings.ws_max_per_user, ctx.settings.ws_queue_messages)
