"""The REST API's protective middleware, in order: rate limit (needs the authenticated
principal, so it goes after the authentication middleware), then the body size limit."""
from __future__ import annotations

from starlette.middleware import Middleware

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
