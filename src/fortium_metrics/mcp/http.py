"""MCP over HTTP (Streamable HTTP at /mcp, SSE at /sse) mounted in the host app."""
from __future__ import annotations

import contextlib

from starlette.routing import BaseRoute

from ..context import AppContext


def mcp_http(ctx: AppContext, verifier) -> tuple[list[BaseRoute], contextlib.AbstractAsyncContextManager]:
    return [], contextlib.nullcontext
