"""Bulk writes of metric events with exact dedup, one implementation per dialect.

Both return the set of dedup keys that were new (their events are now stored); the others were
already known. Keys must be unique within one call (the caller dedups the batch first). Runs in
the caller's tenant-bound transaction, with `organization_id` already stamped on every row.
"""
from __future__ import annotations

from sqlalchemy import insert, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import EventKey, MetricEvent
from .uow import UnitOfWork

COLUMNS = [c.name for c in MetricEvent.__table__.columns]
_STAGING = "fortium_ingest_staging"


async def write_events(uow: UnitOfWork, rows: list[dict]) -> set[str]:
    if not rows:
        return set()
    if uow.dialect == "postgresql":
        return await _write_postgres(uow, rows)
    return await _write_portable(uow, rows)


async def _write_portable(uow: UnitOfWork, rows: list[dict]) -> set[str]:
    keys = [{"organization_id": r["organization_id"], "dedup_key": r["dedup_key"], "occurred_at": r["occurred_at"]} for r in rows]
    statement = sqlite_insert(EventKey).on_conflict_do_nothing().returning(EventKey.dedup_key)
    fresh = set((await uow.session.execute(statement, keys)).scalars())
    new_rows = [r for r in rows if r["dedup_key"] in fresh]
    if new_rows:
        await uow.session.execute(insert(MetricEvent), new_rows)
    return fresh


async def _write_postgres(uow: UnitOfWork, rows: list[dict]) -> set[str]:
    """COPY into a session-temporary staging table, then one statement claims the keys
    (ON CONFLICT DO NOTHING) and moves exactly the rows whose keys were new."""
    connection = await uow.session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    async with raw.cursor() as cursor:
        await cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (LIKE metric_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        async with cursor.copy(f"COPY {_STAGING} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row([_copy_value(row.get(c)) for c in COLUMNS])
        columns = ", ".join(COLUMNS)
        staged = ", ".join(f"s.{c}" for c in COLUMNS)
        await cursor.execute(
            f"WITH fresh AS (INSERT INTO event_keys (organization_id, dedup_key, occurred_at) "
            f"SELECT organization_id, dedup_key, occurred_at FROM {_STAGING} ON CONFLICT DO NOTHING RETURNING dedup_key), "
            f"moved AS (INSERT INTO metric_events ({columns}) SELECT {staged} FROM {_STAGING} s "
            f"JOIN fresh f ON f.dedup_key = s.dedup_key) "
            f"SELECT dedup_key FROM fresh")
        fresh = {key for (key,) in await cursor.fetchall()}
        await cursor.execute(f"DELETE FROM {_STAGING}")
    return fresh


def _copy_value(value):
    if isinstance(value, dict):
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return value
