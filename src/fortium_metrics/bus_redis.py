"""The event bus across processes: one Redis pub/sub channel (bus.py explains the interface).

Publishing puts the message on a bounded outbox that one task sends to Redis, so the publisher
(an ingestion writer) never waits for the network. A listener task stays subscribed to the channel
and hands every message, this process's own included, to the local subscribers.

Redis unreachable: messages are delivered in this process only (other processes' clients miss
them until it is back), a warning is logged once per outage, sending is retried every
RETRY_SECONDS and the listener reconnects on its own. Nothing waits on a connect timeout in the
meantime.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .bus import EventBus, LiveMessage

log = logging.getLogger(__name__)
CHANNEL = "fortium-live"
RETRY_SECONDS = 5.0
OUTBOX = 10_000  # messages waiting to be sent; beyond that new ones are dropped (a hint, not data)
CONNECT_TIMEOUT = 2.0


class RedisBus(EventBus):
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        self.url, self.channel = url, channel
        self.subscribed = False  # the listener hears the channel: Redis delivers our own messages too
        self._retry_at = 0.0  # no sending before this (monotonic): Redis just failed
        self._warned = False
        self._outbox: asyncio.Queue[LiveMessage] | None = None
        self._tasks: list[asyncio.Task] = []
        self._ready: asyncio.Event | None = None
        self._sender: Redis | None = None

    # -- publishing -------------------------------------------------------------------------------
    def publish(self, message: LiveMessage) -> None:
        if self._outbox is None:  # made lazily: it needs the running loop (the CLI publishes too)
            self._outbox = asyncio.Queue(OUTBOX)
            self._tasks.append(asyncio.create_task(self._send_loop(), name="fortium-live-publisher"))
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("live events: outbox full, %s dropped", message.type)

    async def _send_loop(self) -> None:
        assert self._outbox is not None
        while True:
            message = await self._outbox.get()
            try:
                await self._send(message)
            finally:
                self._outbox.task_done()

    async def _send(self, message: LiveMessage) -> None:
        heard = self.subscribed  # Redis will hand it back to our listener
        if time.monotonic() >= self._retry_at:
            try:
                if self._sender is None:
                    self._sender = Redis.from_url(self.url, socket_connect_timeout=CONNECT_TIMEOUT,
                                                  socket_timeout=CONNECT_TIMEOUT)
                await self._sender.publish(self.channel, message.text)
                if heard:
                    return
            except (RedisError, OSError) as error:
                self._retry_at = time.monotonic() + RETRY_SECONDS
                self._degraded(error)
        self._deliver(message)  # not through Redis: at least this process's clients hear it

    def _degraded(self, error: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning("live events: Redis unavailable (%s); delivering in this process only until it is back",
                        error)

    # -- listening --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe, and wait (briefly) until Redis confirms: a message published by another
        process after start() returns reaches this one. A Redis that is down does not hold up the
        start: the listener keeps trying in the background."""
        self._ready = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._listen_loop(), name="fortium-live-listener"))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), CONNECT_TIMEOUT + 1)

    async def _listen_loop(self) -> None:
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as error:  # TimeoutError is an OSError
                self._degraded(error)
            finally:
                self.subscribed = False
                assert self._ready is not None
                self._ready.set()  # start() waits for the first attempt, whatever its outcome
            await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self) -> None:
        client = Redis.from_url(self.url, socket_connect_timeout=CONNECT_TIMEOUT, health_check_interval=30)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(self.channel)
                await self._confirmed(pubsub)
                self._resumed()
                assert self._ready is not None
                self._ready.set()
                async for item in pubsub.listen():
                    if item["type"] == "message":
                        self._on_text(item["data"])
        finally:
            await client.aclose()

    @staticmethod
    async def _confirmed(pubsub) -> None:
        """Redis's reply to SUBSCRIBE: from then on every PUBLISH reaches us."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            item = await pubsub.get_message(timeout=CONNECT_TIMEOUT)
            if item is not None and item["type"] == "subscribe":
                return
        raise TimeoutError("Redis did not confirm the subscription")

    def _resumed(self) -> None:
        self.subscribed, self._retry_at = True, 0.0
        if self._warned:
            log.warning("live events: Redis is back; delivering across processes again")
        self._warned = False

    def _on_text(self, data: bytes) -> None:
        try:
            message = LiveMessage.from_text(data)
        except (ValueError, KeyError, TypeError):
            log.warning("live events: ignored a malformed message on %s", self.channel)
            return
        self._deliver(message)

    async def close(self) -> None:
        if self._outbox is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox.join(), CONNECT_TIMEOUT)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._sender is not None:
            await self._sender.aclose()
            self._sender = None
