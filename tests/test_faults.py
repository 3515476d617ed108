"""Faults as tests: the server killed with SIGKILL during sustained ingestion, and PostgreSQL
cutting the service's connections mid-load. Clients retry until acknowledged (as exporters, the
forwarder and the hook do); every acknowledged event must be stored exactly once. Bounded: a few
thousand events, conditions polled with generous deadlines, no assertion on timing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from fortium_metrics.store.models import EventKey, MetricEvent
from rest_support import bearer, make_key

pytestmark = pytest.mark.anyio
EVENTS_PER_BATCH = 100
FORTIUM = Path(sys.executable).with_name("fortium-metrics")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, what: str, deadline_seconds: float = 90) -> None:
    """A harness deadline (the machine may be slow), not a claim about speed."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


class ServeProcess:
    """`fortium-metrics serve` in its own process, so SIGKILL takes all of it at once."""

    def __init__(self, database_url: str, data_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "FORTIUM_DATABASE_URL": database_url, "FORTIUM_DATA_DIR": str(data_dir),
                    "FORTIUM_PORT": str(self.port), "FORTIUM_RATE_LIMIT": "off", "FORTIUM_LOG_LEVEL": "warning",
                    **{f"FORTIUM_{name.upper()}": value for name, value in settings.items()}}
        self.log = data_dir / "serve.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServeProcess":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([str(FORTIUM), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._healthy, f"the server to answer /healthz (log: {self.log})")
        return self

    def _healthy(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class RetryingSender:
    """Threads sending batches; a batch is sent again, unchanged (same event ids), until it is
    acknowledged with a 200. What each attempt got is recorded."""

    def __init__(self, url: str, key: str, tag: str, batches: int, threads: int = 4) -> None:
        self.url, self.key = url, key
        self.bodies = {n: {"events": [{"type": "command", "command_name": f"/{tag}", "event_id": f"{tag}-{n}-{i}",
                                       "timestamp": "2025-06-01T12:00:00Z"} for i in range(EVENTS_PER_BATCH)]}
                       for n in range(batches)}
        self.acked: dict[int, dict] = {}
        self.failures: Counter = Counter()  # status code, or "connection"
        self._todo = list(self.bodies)
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> "RetryingSender":
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> None:
        wait_for(lambda: not any(t.is_alive() for t in self._threads), "every batch to be acknowledged", 180)

    def _next(self) -> int | None:
        with self._lock:
            return self._todo.pop() if self._todo else None

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=bearer(self.key), timeout=30) as client:
            while (batch := self._next()) is not None:
                while not self._send(client, batch):
                    time.sleep(0.05)

    def _send(self, client: httpx.Client, batch: int) -> bool:
        try:
            response = client.post("/api/v1/metrics/batch", json=self.bodies[batch])
        except httpx.TransportError:
            with self._lock:
                self.failures["connection"] += 1
            return False
        with self._lock:
            if response.status_code == 200:
                self.acked[batch] = response.json()
                return True
            self.failures[response.status_code] += 1
            return False


async def stored(store, principal, tag: str) -> tuple[int, int, int]:
    """(rows, distinct dedup keys, dedup keys claimed) of this run's events."""
    async with store.unit_of_work(principal) as uow:
        rows, distinct = (await uow.session.execute(
            select(func.count(), func.count(func.distinct(MetricEvent.dedup_key))).where(MetricEvent.name == f"/{tag}"))).one()
        claimed = await uow.session.scalar(select(func.count()).select_from(EventKey).where(EventKey.dedup_key.like(f"%{tag}-%")))
    return rows, distinct, claimed


def assert_every_batch_acknowledged_once(sender: RetryingSender) -> None:
    assert set(sender.acked) == set(sender.bodies)
    for answer in sender.acked.values():
        assert answer["rejected"] == 0 and answer["accepted"] + answer["duplicates"] == EVENTS_PER_BATCH


async def test_kill_9_during_ingestion_loses_no_acknowledged_event_and_stores_none_twice(backend, store, people, tmp_path):
    key = await make_key(store, people.org_a, ["ingest", "read"], "alice@a.test")
    server = await anyio.to_thread.run_sync(ServeProcess(backend.url, tmp_path / "data").start)
    try:
        sender = RetryingSender(server.url, key, "kill9", batches=40).start()
        await anyio.to_thread.run_sync(wait_for, lambda: len(sender.acked) >= 8, "some batches acknowledged")
        server.kill()  # mid-load: batches are in flight, some committed but not yet answered
        killed_at = len(sender.acked)
        await anyio.to_thread.run_sync(server.start)  # same port, same database
        await anyio.to_thread.run_sync(sender.join)
    finally:
        server.stop()
    assert killed_at < len(sender.bodies)  # the kill happened during the load, not after it
    assert sender.failures["connection"] > 0  # and cut requests off
    assert_every_batch_acknowledged_once(sender)
    total = len(sender.bodies) * EVENTS_PER_BATCH
    assert await stored(store, people.alice, "kill9") == (total, total, total)


async def test_a_spoofed_forwarded_for_does_not_unlock_a_client_of_serve(backend, tmp_path):
    """`serve` used uvicorn's default, which believes X-Forwarded-For from 127.0.0.1."""
    server = await anyio.to_thread.run_sync(ServeProcess(backend.url, tmp_path / "data",
                                                         login_failures_per_client="2/15minutes").start)
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            for i in range(2):
                await client.post("/api/auth/login", json={"email": f"nobody{i}@a.test", "password": "wrong"})
            direct = await client.post("/api/auth/login", json={"email": "x@a.test", "password": "wrong"})
            spoofed = await client.post("/api/auth/login", json={"email": "x@a.test", "password": "wrong"},
                                        headers={"X-Forwarded-For": "203.0.113.77"})
    finally:
        server.stop()
    assert direct.status_code == 429 and spoofed.status_code == 429


def _app_backends(owner: psycopg.Connection, waiting_only: bool) -> list[int]:
    query = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename = 'fortium_app'"
             + (" AND wait_event_type = 'Lock'" if waiting_only else ""))
    return [row[0] for row in owner.execute(query).fetchall()]


def cut_connections_until_a_request_fails(owner_url: str, sender: RetryingSender) -> int:
    """Hold the dedup-key table locked, so ingestion transactions wait inside PostgreSQL, and
    terminate the service's backends that wait, until a client has seen a request fail.
    Returns how many backends were terminated."""
    terminated = 0
    with psycopg.connect(owner_url, autocommit=True) as watcher, psycopg.connect(owner_url) as locker:
        locker.execute("LOCK TABLE event_keys IN ACCESS EXCLUSIVE MODE")
        try:
            def failed_or_cut() -> bool:
                nonlocal terminated
                for pid in _app_backends(watcher, waiting_only=True):
                    terminated += bool(watcher.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])
                return sum(sender.failures.values()) > 0

            wait_for(failed_or_cut, "a request to fail while its connection is cut")
        finally:
            locker.rollback()  # releases the lock: the retries can land
        for pid in _app_backends(watcher, waiting_only=False):  # and idle pooled ones, for good measure
            terminated += bool(watcher.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])
    return terminated


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_connections_cut_by_postgresql_are_503s_and_the_retries_land_once(backend, live_server, store, people):
    """PostgreSQL only: pg_terminate_backend is its own."""
    key = await make_key(store, people.org_a, ["ingest", "read"], "alice@a.test")
    sender = RetryingSender(live_server.url, key, "cut", batches=30).start()
    await anyio.to_thread.run_sync(wait_for, lambda: len(sender.acked) >= 3, "some batches acknowledged")
    terminated = await anyio.to_thread.run_sync(cut_connections_until_a_request_fails, backend.owner_url, sender)
    await anyio.to_thread.run_sync(sender.join)
    assert terminated > 0
    assert set(sender.failures) == {503}, sender.failures  # never a 500, and the HTTP connections survive
    assert_every_batch_acknowledged_once(sender)
    total = len(sender.bodies) * EVENTS_PER_BATCH
    assert await stored(store, people.alice, "cut") == (total, total, total)
