"""MCP over HTTP, merged into the host app: Streamable HTTP at /mcp, SSE at /sse (+ /messages/).

The host app already runs the SDK's authentication middleware over our API keys (web/auth.py),
so here the MCP endpoints are only wrapped in the SDK's RequireAuthMiddleware (built because the
server gets `token_verifier` + `auth`): no or a bad/revoked key is a 401 with WWW-Authenticate.
Every request re-checks the key, so revoking a key also cuts off sessions already open.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import BaseRoute

from ..context import AppContext
from .server import build_mcp

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGE_PATH = "/messages/"
# A full batch (5,000 events with attributes) is several MiB; the SDK's default limit is 4 MiB.
MAX_BODY_BYTES = 16 * 1024 * 1024
_WILDCARD_BINDS = {"0.0.0.0", "::", ""}


def transport_security(host: str, port: int, public_url: str | None = None) -> TransportSecuritySettings:
    """DNS-rebinding protection: only our own host names may reach the MCP endpoints — loopback,
    the bind address, and the public URL's host (FORTIUM_PUBLIC_URL, behind a proxy)."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if host not in _WILDCARD_BINDS and host not in ("127.0.0.1", "localhost", "::1"):
        hosts.append(f"{host}:{port}")
    if public_url:
        public = urlsplit(public_url)
        hosts += [public.netloc] if public.port else [public.hostname, f"{public.hostname}:*"]
    origins = [f"http://{name}" for name in hosts] + [f"https://{name}" for name in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=origins)


def mcp_http(ctx: AppContext, verifier) -> tuple[list[BaseRoute], Callable[[], contextlib.AbstractAsyncContextManager]]:
    """(routes to merge into the host app, lifespan factory the host app must enter)."""
    settings = ctx.settings
    mcp = build_mcp(ctx, verifier=verifier, log_level=settings.log_level)
    security = transport_security(settings.host, settings.port, settings.public_url)
    # json_response: a tool call is answered with one JSON body instead of an SSE stream per POST,
    # which measurably cuts per-call latency (bench/bench_mcp_latency.py). Our tools send no
    # progress or server-to-client requests mid-call, which is all an SSE reply would add.
    streamable = mcp.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security,
                                         json_response=True, max_request_body_size=MAX_BODY_BYTES)
    sse = mcp.sse_app(sse_path=SSE_PATH, message_path=MESSAGE_PATH, transport_security=security,
                      max_request_body_size=MAX_BODY_BYTES)
    routes: list[BaseRoute] = [*streamable.routes, *sse.routes]
    # run() can be entered once per server instance: create_app builds a fresh one per app.
    return routes, mcp.session_manager.run
