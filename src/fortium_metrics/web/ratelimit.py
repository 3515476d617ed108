"""Per-organisation rate limits on the REST API (the `limits` library, moving window).

The budget belongs to the organisation, not to a key or a process: every key of an organisation
draws from it, and with `redis_url` set every process of the deployment shares it through Redis
(otherwise each process keeps its own in memory). Each counted response carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds when the
oldest request in the window expires); a request over the budget gets the 429 envelope and
`Retry-After` (seconds).

Only authenticated requests are counted (the organisation is unknown before that); they are
counted after the authentication middleware has resolved the key. If the limiter's storage fails
(Redis down), requests pass and a warning is logged: losing metrics because the limiter is
unavailable would be worse than briefly not limiting.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..shared_limits import redis_storage
from .auth import scope_principal
from .errors import error_response

log = logging.getLogger(__name__)
LIMITED_PREFIXES = ("/api/", "/mcp", "/messages/")  # /mcp covers /mcp/metrics/ and MCP calls
KEY_PREFIX = "fortium-ratelimit"
STORAGE_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # epoch seconds

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(math.ceil(self.reset))}

    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset - time.time()))


class OrgRateLimiter:
    def __init__(self, item: RateLimitItem, storage: Storage, pool: ConnectionPool | None = None) -> None:
        self.item = item
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.pool = pool

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.disconnect()

    async def hit(self, organization: str) -> Decision:
        allowed = await self.strategy.hit(self.item, "org", organization)
        stats = await self.strategy.get_window_stats(self.item, "org", organization)
        return Decision(allowed, self.item.amount, max(0, stats.remaining), stats.reset_time)


def build_rate_limiter(settings: Settings) -> OrgRateLimiter | None:
    if settings.rate_limit == "off":
        return None
    item = parse(settings.rate_limit)
    if not settings.redis_url:
        return OrgRateLimiter(item, MemoryStorage())
    storage, pool = redis_storage(settings.redis_url, KEY_PREFIX)
    return OrgRateLimiter(item, storage, pool)


class RateLimitMiddleware:
    """Must sit inside the authentication middleware (it reads the resolved principal)."""

    def __init__(self, app: ASGIApp, limiter: OrgRateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self._retry_storage_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_at_shutdown(send))
            return
        principal = scope_principal(scope) if scope["type"] == "http" else None
        if principal is None or not scope["path"].startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        decision = await self._decide(str(principal.organization_id))
        if decision is None:
            await self.app(scope, receive, send)
        elif not decision.allowed:
            await self._refuse(decision, scope, receive, send)
        else:
            await self.app(scope, receive, _with_headers(send, decision.headers()))

    def _closing_at_shutdown(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.limiter.aclose()
            await send(message)

        return sending

    async def _decide(self, organization: str) -> Decision | None:
        if time.monotonic() < self._retry_storage_at:
            return None
        try:
            return await self.limiter.hit(organization)
        except Exception as error:  # storage down: fail open, see the module docstring
            # Do not pay a connect timeout on every request while it is down: retry a bit later.
            self._retry_storage_at = time.monotonic() + STORAGE_RETRY_SECONDS
            log.warning("rate limiter unavailable, requests not limited for %s s: %s", STORAGE_RETRY_SECONDS, error)
            return None

    async def _refuse(self, decision: Decision, scope: Scope, receive: Receive, send: Send) -> None:
        wait = decision.retry_after()
        response = error_response(
            HTTPConnection(scope), 429, "rate_limited",
            f"rate limit exceeded: this organisation may make {self.limiter.item} requests "
            f"(FORTIUM_RATE_LIMIT); retry in {wait} s", headers={**decision.headers(), "Retry-After": str(wait)})
        await response(scope, receive, send)


def _with_headers(send: Send, headers: dict[str, str]) -> Send:
    encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return sending
