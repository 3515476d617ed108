"""Bulk writes of metric events with exact dedup, one implementation per dialect.

Both return the set of dedup keys that were new (their events are now stored); the others were
already known. Keys must be unique within one call (the caller dedups the batch first). Runs in
the caller's tenant-bound transaction, with `organization_id` already stamped on every row.
Rows come without an `id`: each writer gives the stored rows theirs.
"""
from __future__ import annotations

from operator import itemgetter

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Uuid, insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import EventKey, MetricEvent, new_id
from .types import UTCDateTime
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
    new_rows = [{**r, "id": new_id()} for r in rows if r["dedup_key"] in fresh]
    if new_rows:
        await uow.session.execute(insert(MetricEvent), new_rows)
    return fresh


# PostgreSQL: binary COPY of the varying columns. The organisation is one parameter per call (the
# transaction's) and ids come from gen_random_uuid(), so neither is formatted per row. Binary
# COPY needs each column's type; they follow the ORM types, which tests/test_migrations.py holds
# equal to the migrated schema. JSON goes through orjson (several times faster than json).
_COPIED = [c for c in COLUMNS if c not in ("organization_id", "id", "attributes")] + ["attributes"]
_ROW_VALUES = itemgetter(*_COPIED[:-1])


def _copy_type(column) -> str:
    # BigInteger before Integer: it is a subclass. A column of any other type fails at import.
    kinds = ((Uuid, "uuid"), (UTCDateTime, "timestamptz"), (BigInteger, "int8"), (Integer, "int4"), (Boolean, "bool"),
             (Float, "float8"), (String, "text"))
    for sql_type, name in kinds:
        if isinstance(column.type, sql_type):
            return name
    raise TypeError(f"metric_events.{column.name}: no binary COPY type for {column.type!r}")


_COPY_TYPES = [_copy_type(MetricEvent.__table__.columns[name]) for name in _COPIED[:-1]] + ["jsonb"]


def _json(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


async def _write_postgres(uow: UnitOfWork, rows: list[dict]) -> set[str]:
    """COPY into a session-temporary staging table, then one statement claims the keys
    (ON CONFLICT DO NOTHING) and moves exactly the rows whose keys were new."""
    organization_id = uow.principal.organization_id
    if organization_id is None:
        raise ValueError("metric events are written inside one organisation's unit of work")
    connection = await uow.session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    columns = ", ".join(_COPIED)
    async with raw.cursor() as cursor:
        await cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM metric_events WITH NO DATA")
        async with cursor.copy(f"COPY {_STAGING} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            write = copy.write_row
            for row in rows:
                await write((*_ROW_VALUES(row), Jsonb(row["attributes"], dumps=_json)))
        staged = ", ".join(f"s.{c}" for c in _COPIED)
        await cursor.execute(
            f"WITH fresh AS (INSERT INTO event_keys (organization_id, dedup_key, occurred_at) "
            f"SELECT %(org)s, dedup_key, occurred_at FROM {_STAGING} ON CONFLICT DO NOTHING RETURNING dedup_key), "
            f"moved AS (INSERT INTO metric_events (organization_id, id, {columns}) "
            f"SELECT %(org)s, gen_random_uuid(), {staged} FROM {_STAGING} s JOIN fresh f ON f.dedup_key = s.dedup_key) "
            f"SELECT dedup_key FROM fresh", {"org": organization_id})
        fresh = {key for (key,) in await cursor.fetchall()}
        await cursor.execute(f"DELETE FROM {_STAGING}")
    return fresh
