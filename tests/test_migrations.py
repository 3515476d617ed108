"""Migrations build the whole schema on both databases, and every revision downgrades."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from fortium_metrics.store import migrate
from fortium_metrics.store.engine import create_engine as create_async, sync_url
from fortium_metrics.store.models import Base
from fortium_metrics.store.uow import Store
from fortium_metrics import maintenance

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_databases").create()


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(empty_db):
    expected = set(Base.metadata.tables)
    migrate.upgrade(empty_db)
    assert migrate.current_revision(empty_db) == migrate.head_revision()
    assert expected <= _tables(empty_db)
    migrate.downgrade(empty_db, "base")
    assert migrate.current_revision(empty_db) is None
    assert _tables(empty_db) & expected == set()
    migrate.upgrade(empty_db)
    assert expected <= _tables(empty_db)


def test_each_revision_downgrades_one_step(empty_db):
    from alembic.script import ScriptDirectory

    revisions = [r.revision for r in ScriptDirectory.from_config(migrate.alembic_config(empty_db)).walk_revisions()]
    migrate.upgrade(empty_db)
    for expected_after in revisions[1:] + [None]:  # newest first
        migrate.downgrade(empty_db, "-1")
        assert migrate.current_revision(empty_db) == expected_after
    migrate.upgrade(empty_db)
    assert migrate.current_revision(empty_db) == migrate.head_revision()


def test_schema_matches_the_models(empty_db):
    """The migrations and the ORM models describe the same columns."""
    migrate.upgrade(empty_db)
    engine = create_engine(sync_url(empty_db))
    try:
        inspector = inspect(engine)
        for name, table in Base.metadata.tables.items():
            assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_dedup_keys_compare_byte_by_byte_and_downgrade_restores_the_default(pg_databases):
    url = pg_databases.create()
    migrate.upgrade(url)

    def collations() -> set:
        with psycopg.connect(url) as conn:
            return set(conn.execute(
                "SELECT table_name, collation_name FROM information_schema.columns "
                "WHERE column_name = 'dedup_key' AND table_name IN ('event_keys', 'metric_events')").fetchall())

    assert collations() == {("event_keys", "C"), ("metric_events", "C")}
    migrate.downgrade(url, "0005")
    assert collations() == {("event_keys", None), ("metric_events", None)}


def _month_start(months: int) -> datetime:
    now = datetime.now(timezone.utc)
    year, month = divmod(now.month - 1 + months, 12)
    return datetime(now.year + year, month + 1, 1, tzinfo=timezone.utc)


def _partitions(conn) -> dict[str, int]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'metric_events'::regclass").fetchall()
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for (name,) in rows}


def _insert_event(conn, org, when: datetime) -> None:
    conn.execute(
        "INSERT INTO metric_events (organization_id, id, occurred_at, kind, source, dedup_key, attributes) "
        "VALUES (%s, %s, %s, 'task', 't', %s, '{}')", (org, uuid.uuid4(), when, uuid.uuid4().hex))


@pytest.mark.postgres
async def test_partition_job_creates_upcoming_months_and_keeps_default_rows(pg_databases):
    owner = pg_databases.create()
    migrate.upgrade(owner)
    org = uuid.uuid4()
    far_future = _month_start(9) + timedelta(days=3)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations VALUES (%s, 'o', %s, '{}', 30, '{}', now())", (org, org.hex[:10]))
        _insert_event(conn, org, datetime(1999, 1, 1, tzinfo=timezone.utc))
        _insert_event(conn, org, far_future)
        before = _partitions(conn)
        assert before["metric_events_default"] == 2
        assert f"metric_events_p{_month_start(9):%Y_%m}" not in before

    store = Store(create_async(pg_databases.app_url(owner)))
    created = await maintenance.ensure_partitions(store, months_ahead=10)  # as the application role
    assert await maintenance.ensure_partitions(store, months_ahead=10) == 0  # idempotent
    await store.dispose()

    with psycopg.connect(owner) as conn:
        after = _partitions(conn)
    for months in range(11):
        assert f"metric_events_p{_month_start(months):%Y_%m}" in after
    assert created == len(after) - len(before)
    # The far-future row moved into its new month; the 1999 row stays in the default partition.
    assert after[f"metric_events_p{_month_start(9):%Y_%m}"] == 1
    assert after["metric_events_default"] == 1
    assert sum(after.values()) == 2


@pytest.mark.postgres
def test_downgrading_partitions_keeps_the_rows(pg_databases):
    owner = pg_databases.create()
    migrate.upgrade(owner)
    org = uuid.uuid4()
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("INSERT INTO organizations VALUES (%s, 'o', %s, '{}', 30, '{}', now())", (org, org.hex[:10]))
        _insert_event(conn, org, datetime.now(timezone.utc))
    migrate.downgrade(owner, "0001")
    with psycopg.connect(owner) as conn:
        assert _partitions(conn) == {"metric_events_default": 1}
