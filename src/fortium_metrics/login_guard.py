"""Throttling of failed sign-ins (the `limits` library; Redis-backed when configured, so every
process sees the same failures). Counted per e-mail address and per client address, whether or
not the account exists, so the answers reveal nothing about which e-mails are registered."""
from __future__ import annotations

import hashlib
import math
import time

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from .config import Settings
from .errors import RateLimited


class LoginGuard:
    def __init__(self, settings: Settings) -> None:
        storage: Storage = (RedisStorage(f"async+{settings.redis_url}", implementation="redispy", key_prefix="fortium-login")
                            if settings.redis_url else MemoryStorage())
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_account = parse(settings.login_failures_per_account)
        self.per_client = parse(settings.login_failures_per_client)

    @staticmethod
    def _account(email: str) -> str:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    async def check(self, email: str, client: str) -> None:
        """Refuse before any password work when either budget is spent."""
        for item, key in ((self.per_account, self._account(email)), (self.per_client, client)):
            if not await self.limiter.test(item, "login", key):
                stats = await self.limiter.get_window_stats(item, "login", key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(f"too many failed sign-ins; try again in {wait} s", field="email")

    async def failed(self, email: str, client: str) -> None:
        await self.limiter.hit(self.per_account, "login", self._account(email))
        await self.limiter.hit(self.per_client, "login", client)

    async def succeeded(self, email: str) -> None:
        await self.limiter.clear(self.per_account, "login", self._account(email))
