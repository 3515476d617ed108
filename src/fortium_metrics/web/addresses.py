"""Where people reach this server, for links the server hands out (invitations, key snippets)."""
from __future__ import annotations

from starlette.requests import Request


def server_url(request: Request) -> str:
    """FORTIUM_PUBLIC_URL, else the address this request came to."""
    return (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")
