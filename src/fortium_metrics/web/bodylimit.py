"""Request body limit, enforced while the body arrives.

Content-Length is only a claim: a chunked upload has none, and a client may send more than it
declared. So the limit is applied twice: a declared length over the limit is refused before a
byte is read (cheap), and the bytes actually received are counted as the handler reads them; the
first chunk past the limit raises `PayloadTooLarge`, which the app's error handler turns into the
413 envelope. Nothing past the limit is ever buffered.
"""
from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLarge, error_response


def _too_large(limit: int) -> str:
    return f"body: larger than the {limit}-byte limit (FORTIUM_MAX_BODY_BYTES)"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # malformed: the server rejects it; counting still protects us
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = error_response(HTTPConnection(scope), 413, PayloadTooLarge.code, _too_large(self.max_bytes),
                                      "body", headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(_too_large(self.max_bytes), field="body")
            return message

        return counted
