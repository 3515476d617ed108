"""Redis storage for the `limits` library (rate limits, sign-in throttling), shared by every
process of a deployment. Our own connection pool, so shutdown can close it (`limits` offers no
close), with short connect and read timeouts, so an unreachable Redis fails fast instead of
holding requests. redis-py is already a dependency; `limits` would default to coredis."""
from __future__ import annotations

from limits.aio.storage import RedisStorage
from redis.asyncio import ConnectionPool

TIMEOUT_SECONDS = 2


def redis_storage(url: str, key_prefix: str) -> tuple[RedisStorage, ConnectionPool]:
    pool = ConnectionPool.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
    storage = RedisStorage(f"async+{url}", implementation="redispy", key_prefix=key_prefix, connection_pool=pool)
    return storage, pool
