"""The REST API's protective middleware, in order: rate limit (needs the authenticated
principal, so it goes after the authentication middleware), then the body size limit. And,
before everything, the client address from trusted proxies only."""
from __future__ import annotations

from starlette.middleware import Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..config import Settings
from .bodylimit import BodyLimitMiddleware
from .ratelimit import RateLimitMiddleware, build_rate_limiter


def limit_middleware(settings: Settings) -> list[Middleware]:
    middleware = []
    limiter = build_rate_limiter(settings)
    if limiter is not None:
        middleware.append(Middleware(RateLimitMiddleware, limiter=limiter))
    middleware.append(Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes))
    return middleware


def proxy_middleware(settings: Settings) -> list[Middleware]:
    """X-Forwarded-For/-Proto rewrite the client address only when the peer is one of
    FORTIUM_TRUSTED_PROXIES. From anyone else they are ignored: a client that could name its own
    address would escape every per-address limit (a locked-out client got in by sending one).
    `serve` turns uvicorn's own handling off (it trusts 127.0.0.1 by default)."""
    if not settings.trusted_proxies:
        return []
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies.split(","))]
