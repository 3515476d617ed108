"""Throttling of failed sign-ins (the `limits` library; Redis-backed when configured, so every
process sees the same failures). Counted whether or not the account exists, so the answers reveal
nothing about which e-mails are registered. Three budgets:

* per client address (every e-mail it tries): one client guessing at many accounts;
* per e-mail *and* client: one client guessing one password. It stops that client only, so a
  stranger's wrong passwords cannot lock the owner out of their own account;
* per e-mail over all clients, much higher: many clients guessing one password. Past it, only a
  client that has not failed for this e-mail may still try (its password is checked as usual),
  so a distributed attacker gets one guess per address while the owner still signs in.

If Redis cannot be reached, the process counts in its own memory (a warning is logged once per
outage, /healthz reports Redis "degraded") and tries Redis again a few seconds later: sign-in keeps
working, throttled per process, instead of failing with a 500.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from .config import Settings
from .errors import RateLimited
from .shared_limits import redis_storage

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_REDIS_SECONDS = 5
_REDIS_DOWN = (RedisError, StorageError, OSError)


class LoginGuard:
    def __init__(self, settings: Settings) -> None:
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared, self.pool = None, None
        if settings.redis_url:
            storage, self.pool = redis_storage(settings.redis_url, "fortium-login")
            self.shared = MovingWindowRateLimiter(storage)
        self.redis_down = False
        self._retry_redis_at = 0.0
        self.per_pair = parse(settings.login_failures_per_account_client)
        self.per_account = parse(settings.login_failures_per_account)
        self.per_client = parse(settings.login_failures_per_client)

    @staticmethod
    def _account(email: str) -> str:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    def _pair(self, email: str, client: str) -> str:
        return f"{self._account(email)}:{client}"

    async def check(self, email: str, client: str) -> None:
        """Refuse before any password work when a budget is spent (see the module docstring)."""
        account, pair = self._account(email), self._pair(email, client)

        async def refusal(limiter: MovingWindowRateLimiter) -> float | None:
            for item, key in ((self.per_client, client), (self.per_pair, pair)):
                if not await limiter.test(item, "login", key):
                    return await _reset(limiter, item, key)
            if not await limiter.test(self.per_account, "login", account):
                pair_stats = await limiter.get_window_stats(self.per_pair, "login", pair)
                if pair_stats.remaining < self.per_pair.amount:  # this client has failed for this e-mail
                    return await _reset(limiter, self.per_account, account)
            return None

        reset = await self._run(refusal)
        if reset is not None:
            wait = max(1, math.ceil(reset - time.time()))
            raise RateLimited(f"too many failed sign-ins; try again in {wait} s", field="email")

    async def failed(self, email: str, client: str) -> None:
        async def count(limiter: MovingWindowRateLimiter) -> None:
            await limiter.hit(self.per_pair, "login", self._pair(email, client))
            await limiter.hit(self.per_account, "login", self._account(email))
            await limiter.hit(self.per_client, "login", client)

        await self._run(count)

    async def succeeded(self, email: str, client: str) -> None:
        """The owner's own slate is wiped; other clients' failures still count against them."""
        async def clear(limiter: MovingWindowRateLimiter) -> None:
            await limiter.clear(self.per_pair, "login", self._pair(email, client))

        await self._run(clear)

    async def redis_status(self) -> str:
        """For /healthz: "ok", "degraded" (unreachable: counting per process) or "not configured"."""
        if self.shared is None:
            return "not configured"
        reachable = await self.shared.storage.check()
        return "ok" if reachable else "degraded"

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.disconnect()

    async def _run(self, action: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """`action` on the shared storage, or on this process's memory while Redis is unreachable."""
        if self.shared is not None and time.monotonic() >= self._retry_redis_at:
            try:
                result = await action(self.shared)
            except _REDIS_DOWN as error:
                self._retry_redis_at = time.monotonic() + RETRY_REDIS_SECONDS
                if not self.redis_down:
                    log.warning("Redis unreachable: sign-in failures are counted per process until it is back (%s)",
                                error)
                self.redis_down = True
            else:
                if self.redis_down:
                    log.warning("Redis reachable again: sign-in failures are shared again")
                self.redis_down = False
                return result
        return await action(self.local)


async def _reset(limiter: MovingWindowRateLimiter, item: RateLimitItem, key: str) -> float:
    return (await limiter.get_window_stats(item, "login", key)).reset_time
