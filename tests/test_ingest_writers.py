"""Concurrent ingestion transactions: several writers per process (PostgreSQL), the optimistic
dedup claim under contention, and retrying a transaction PostgreSQL aborted for a deadlock."""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import func, select, text

from fortium_metrics import orgs
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.event_writer import DEDUP_KEY, ROW_COLUMNS, json_text, write_events
from fortium_metrics.store.models import EventKey, MetricEvent, Project
from fortium_metrics.store.uow import Store

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def tool(i: int, **extra) -> dict:
    return {"type": "tool_execution", "tool_name": "Read", "event_id": f"w-{i}",
            "timestamp": (T0 + timedelta(seconds=i)).isoformat(), **extra}


async def stored(store, principal, model=MetricEvent) -> int:
    async with store.unit_of_work(principal) as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


async def test_writers_are_several_on_postgres_and_one_on_sqlite(store, backend):
    assert Ingestor(store, writers=3).writers == (3 if backend.name == "postgres" else 1)


async def test_concurrent_overlapping_batches_store_each_event_once(store, backend, people):
    """Eight requests at once, each half new and half shared with the others: the writers' plain
    key claims collide, wait for each other, fall back to the exact path, and every event is
    counted exactly once across all answers."""
    ingestor = Ingestor(store, writers=4)
    shared = [tool(i) for i in range(100)]
    batches = [shared + [tool(1000 * (n + 1) + i) for i in range(100)] for n in range(8)]
    try:
        results = await asyncio.gather(*(record_events(ingestor, people.alice, b, "test") for b in batches))
    finally:
        await ingestor.close()
    assert sum(r.accepted for r in results) == 100 + 8 * 100
    assert sum(r.duplicates for r in results) == 7 * 100
    assert all(r.rejected == 0 for r in results)
    assert await stored(store, people.alice) == await stored(store, people.alice, EventKey) == 900


async def test_a_second_write_in_one_transaction_stores_only_its_own_rows(store, people):
    """The PostgreSQL staging table lives for the transaction: a second call must start empty."""
    def row(key: str) -> list:
        values = dict.fromkeys(ROW_COLUMNS)
        values.update(occurred_at=T0, kind="task", name=key, source="test", dedup_key=key, attributes=json_text({}))
        return [values[c] for c in ROW_COLUMNS]

    async with store.unit_of_work(Principal(people.org_a, kind="ingest", label="t")) as uow:
        first = await write_events(uow, [row("k1"), row("k2")])
        second = await write_events(uow, [row("k3"), row("k1")])
    assert (first, second) == ({"k1", "k2"}, {"k3"})
    async with store.unit_of_work(people.alice) as uow:
        names = sorted(await uow.session.scalars(select(MetricEvent.name)))
    assert names == ["k1", "k2", "k3"] and row("x")[DEDUP_KEY] == "x"


@pytest.mark.postgres
async def test_a_deadlocked_transaction_is_retried_and_succeeds(pg_migrated, caplog):
    """A request names two new projects; another transaction (another process) has created the
    second and then asks for the first: a deadlock. PostgreSQL aborts the request's transaction,
    the other goes on and commits, and the request runs again and succeeds.

    Which of two deadlocked transactions PostgreSQL aborts depends on whose deadlock check runs
    first (each runs `deadlock_timeout` after it began to wait). The other transaction's check is
    put 60 s away (a superuser setting, hence the owner's connection), so it is always the
    request's that finds the cycle and aborts, however loaded the machine is."""
    owner_url, app_url = pg_migrated
    store = Store(create_engine(app_url), create_engine(owner_url))
    async with store.unit_of_work(Principal.system("test")) as uow:
        org = (await orgs.create_organization(uow, "Deadlock", f"deadlock-{uuid.uuid4().hex[:8]}")).id
    key = Principal(org, None, "admin", frozenset({"ingest", "admin"}), "api_key")
    ingestor = Ingestor(store)
    caplog.set_level(logging.WARNING, logger="fortium_metrics.ingest")
    try:
        async with await psycopg.AsyncConnection.connect(owner_url) as other:
            await other.execute("SET deadlock_timeout = '60s'")
            await other.execute(NEW_PROJECT, (org, uuid.uuid4(), "p-two"))
            request = asyncio.create_task(
                record_events(ingestor, key, [tool(1, project="p-one"), tool(2, project="p-two")], "t"))
            await _until_waiting_for_a_lock(other)  # the request holds p-one and waits for p-two
            await other.execute(NEW_PROJECT, (org, uuid.uuid4(), "p-one"))  # waits until the request is aborted
            await other.commit()
        result = await request
    finally:
        await ingestor.close()
    assert (result.accepted, result.rejected) == (2, 0)
    assert any("DeadlockDetected" in r.getMessage() for r in caplog.records)
    async with store.unit_of_work(key) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(MetricEvent)) == 2
        assert sorted(await uow.session.scalars(select(Project.name))) == ["p-one", "p-two"]
    await store.dispose()


NEW_PROJECT = "INSERT INTO projects (organization_id, id, name, status, created_at) VALUES (%s, %s, %s, 'active', now())"


async def _until_waiting_for_a_lock(other, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        async with await psycopg.AsyncConnection.connect(other.info.dsn, autocommit=True) as probe:
            waiting = await (await probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).fetchone()
        if waiting[0]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never waited for the other transaction's project")


@pytest.fixture
async def poison(backend):
    """A real database refusal for one value: a CHECK constraint (PostgreSQL) or a trigger (SQLite)
    that rejects tool executions named 'poison' — standing in for any value the service lets
    through but the database refuses. Added as the schema owner, removed afterwards."""
    owner = create_engine(backend.owner_url)
    add, drop = (("ALTER TABLE metric_events ADD CONSTRAINT test_poison CHECK (name <> 'poison') NOT VALID",
                  "ALTER TABLE metric_events DROP CONSTRAINT test_poison") if backend.name == "postgres" else
                 ("CREATE TRIGGER test_poison BEFORE INSERT ON metric_events WHEN NEW.name = 'poison' "
                  "BEGIN SELECT RAISE(ABORT, 'poison refused'); END", "DROP TRIGGER test_poison"))
    try:
        async with owner.begin() as connection:
            await connection.execute(text(add))
        yield
        async with owner.begin() as connection:
            await connection.execute(text(drop))
    finally:
        await owner.dispose()


async def test_a_request_the_database_refuses_fails_alone_not_the_requests_committed_with_it(store, people, poison, caplog):
    ingestor = Ingestor(store)
    caplog.set_level(logging.WARNING, logger="fortium_metrics.ingest")
    try:
        good = [{"type": "tool_execution", "tool_name": "Read", "event_id": f"good-{i}"} for i in range(3)]
        bad = [{"type": "tool_execution", "tool_name": "poison", "event_id": "bad"}]
        # Queued before any writer runs, so both are in one group transaction.
        first, second, third = await asyncio.gather(
            record_events(ingestor, people.bob, good[:2], "t"), record_events(ingestor, people.bob, bad, "t"),
            record_events(ingestor, people.bob, good[2:], "t"), return_exceptions=True)
    finally:
        await ingestor.close()
    assert (first.accepted, third.accepted) == (2, 1) and isinstance(second, Exception)
    assert "one by one" in caplog.text
    async with store.unit_of_work(people.bob) as uow:
        names = list(await uow.session.scalars(select(MetricEvent.name)))
    assert names == ["Read"] * 3
