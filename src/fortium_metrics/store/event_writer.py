"""Bulk writes of metric events with exact dedup, one implementation per dialect.

A row is a list of values in `ROW_COLUMNS` order: every metric_events column but the
organisation (one per call: the unit of work's) and the id (each writer gives the stored rows
theirs), with `attributes` already serialised to JSON text (`json_text`). Lists, not dicts: the
row is built once per event and handed to the driver as it is.

Both writers return the set of dedup keys that were new (their events are now stored); the others
were already known. Keys must be unique within one call (the caller dedups the batch first). Runs
in the caller's tenant-bound transaction.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

import orjson
from psycopg.errors import UniqueViolation
from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, MetaData, String, Table, Uuid

from . import rollup_writer
from .models import MetricEvent
from .types import UTCDateTime
from .uow import UnitOfWork

COLUMNS = [c.name for c in MetricEvent.__table__.columns]
# `attributes` last: the PostgreSQL writer stages it as text and casts that last column to jsonb.
ROW_COLUMNS = [c for c in COLUMNS if c not in ("organization_id", "id", "attributes")] + ["attributes"]
DEDUP_KEY = ROW_COLUMNS.index("dedup_key")


def json_text(value) -> str:
    """JSON as the writers take `attributes`: orjson is several times faster than json; dict keys
    that are not strings are written as strings rather than refused."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()




async def write_events(uow: UnitOfWork, rows: list[list]) -> set[str]:
    """Store the rows whose keys are new, and add them to the analytics rollups in the same
    transaction (store/rollup_writer.py)."""
    if not rows:
        return set()
    if uow.principal.organization_id is None:
        raise ValueError("metric events are written inside one organisation's unit of work")
    if uow.dialect == "postgresql":
        fresh = await _write_postgres(uow, rows)
        if fresh:
            await rollup_writer.add_events(uow, _STAGING_TABLE)
        return fresh
    before = await rollup_writer.sqlite_last_rowid(uow)
    fresh = await _write_portable(uow, rows)
    if fresh:
        events = MetricEvent.__table__
        await rollup_writer.add_events(uow, events, rollup_writer.sqlite_rowid_after(before),
                                       events.c.organization_id == rollup_writer.ORG, lo=before)
    return fresh


async def _driver_connection(uow: UnitOfWork):
    connection = await uow.session.connection()
    return (await connection.get_raw_connection()).driver_connection


# SQLite: driver-level statements on the session's connection. The ORM's bulk insert costs about
# 100 µs a row in bind processing; formatting the values here as SQLAlchemy stores them on SQLite
# (UUIDs as 32 hex digits, naive UTC timestamps, JSON text) costs a few. tests/test_ingest.py reads
# the rows back through the ORM, which holds the two formats equal. The keys are claimed in one
# statement from a temporary table, so a concurrent writer can never make us store a key twice.
_SQLITE_KEYS = "fortium_ingest_keys"
_SQLITE_INSERT = (f"INSERT INTO metric_events (organization_id, id, {', '.join(ROW_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * (len(ROW_COLUMNS) + 2))})")


def _sqlite_time(value: datetime) -> str:
    # Always with microseconds: SQLAlchemy binds query bounds that way, and stored text is compared.
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_converter(column):
    if isinstance(column.type, Uuid):
        return lambda value: value.hex if value is not None else None
    if isinstance(column.type, UTCDateTime):
        return lambda value: _sqlite_time(value) if value is not None else None
    return None  # stored as given (text, JSON text, numbers, booleans as integers)


_SQLITE_CONVERTERS = [_sqlite_converter(MetricEvent.__table__.columns[name]) for name in ROW_COLUMNS]
_TIME = ROW_COLUMNS.index("occurred_at")


def _sqlite_row(org: str, row: list, stamp: str) -> list:
    values = [org, os.urandom(16).hex()]  # a fresh id; SQLAlchemy reads 32 hex digits as a UUID
    values += [convert(value) if convert else value for convert, value in zip(_SQLITE_CONVERTERS, row)]
    values[2 + _TIME] = stamp
    return values


async def _write_portable(uow: UnitOfWork, rows: list[list]) -> set[str]:
    # Every value is converted before the first write: SQLite has one write lock per database, and
    # other processes (import workers, hooks) wait while we hold it.
    org = uow.principal.organization_id.hex
    stamps = [_sqlite_time(row[_TIME]) for row in rows]
    prepared = [_sqlite_row(org, row, stamp) for row, stamp in zip(rows, stamps)]
    raw = await _driver_connection(uow)  # aiosqlite
    await raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SQLITE_KEYS} "
                      "(organization_id TEXT, dedup_key TEXT, occurred_at TEXT)")
    await raw.executemany(f"INSERT INTO temp.{_SQLITE_KEYS} VALUES (?, ?, ?)",
                          [(org, row[DEDUP_KEY], stamp) for row, stamp in zip(rows, stamps)])
    cursor = await raw.execute(
        f"INSERT INTO event_keys (organization_id, dedup_key, occurred_at) SELECT organization_id, dedup_key, occurred_at "
        f"FROM temp.{_SQLITE_KEYS} WHERE true ON CONFLICT DO NOTHING RETURNING dedup_key")
    fresh = {key for (key,) in await cursor.fetchall()}
    await cursor.close()
    await raw.execute(f"DELETE FROM temp.{_SQLITE_KEYS}")
    values = [values for values, row in zip(prepared, rows) if row[DEDUP_KEY] in fresh]
    if values:
        await raw.executemany(_SQLITE_INSERT, values)
    return fresh


_STAGING = "fortium_ingest_staging"
# The staging table as SQLAlchemy sees it, for the rollup statements that read it.
_STAGING_TABLE = Table(_STAGING, MetaData(), *(Column(name, MetricEvent.__table__.c[name].type) for name in ROW_COLUMNS))


# PostgreSQL: binary COPY of the rows into a staging table, then one statement moves them. The
# organisation is one parameter per call and ids come from gen_random_uuid(), so neither is
# formatted per row. Binary COPY needs each column's type; they follow the ORM types, which
# tests/test_migrations.py holds equal to the migrated schema.
def _copy_type(column) -> str:
    # BigInteger before Integer: it is a subclass. A column of any other type fails at import.
    kinds = ((Uuid, "uuid"), (UTCDateTime, "timestamptz"), (BigInteger, "int8"), (Integer, "int4"), (Boolean, "bool"),
             (Float, "float8"), (String, "text"))
    for sql_type, name in kinds:
        if isinstance(column.type, sql_type):
            return name
    raise TypeError(f"metric_events.{column.name}: no binary COPY type for {column.type!r}")


# `attributes` is staged as the JSON text it arrives as and becomes jsonb when moved.
_COPY_TYPES = [_copy_type(MetricEvent.__table__.columns[name]) for name in ROW_COLUMNS[:-1]] + ["text"]
_COLUMN_LIST = ", ".join(ROW_COLUMNS)
_STAGED = ", ".join(f"s.{c}" for c in ROW_COLUMNS[:-1]) + ", s.attributes::jsonb"
_CLAIM_ALL = (
    f"WITH claimed AS (INSERT INTO event_keys (organization_id, dedup_key, occurred_at) "
    f"SELECT %(org)s, dedup_key, occurred_at FROM {_STAGING} ORDER BY dedup_key) "
    f"INSERT INTO metric_events (organization_id, id, {_COLUMN_LIST}) "
    f"SELECT %(org)s, gen_random_uuid(), {_STAGED} FROM {_STAGING} s")
_CLAIM_NEW = (
    f"WITH fresh AS (INSERT INTO event_keys (organization_id, dedup_key, occurred_at) "
    f"SELECT %(org)s, dedup_key, occurred_at FROM {_STAGING} ORDER BY dedup_key ON CONFLICT DO NOTHING "
    f"RETURNING dedup_key), "
    f"moved AS (INSERT INTO metric_events (organization_id, id, {_COLUMN_LIST}) "
    f"SELECT %(org)s, gen_random_uuid(), {_STAGED} FROM {_STAGING} s JOIN fresh f ON f.dedup_key = s.dedup_key) "
    f"SELECT dedup_key FROM fresh")


async def _write_postgres(uow: UnitOfWork, rows: list[list]) -> set[str]:
    """COPY into a transaction-scoped staging table, then claim the keys and move the rows.

    The claim is optimistic: re-sent events are rare, so a plain INSERT of every key (half the
    work of ON CONFLICT, which probes the index before inserting) runs first, inside a savepoint.
    Only when a key is already known does it roll back to the savepoint and take the exact path:
    ON CONFLICT DO NOTHING, then move just the rows whose keys were new. Keys are claimed in
    sorted order, so two writers claiming overlapping keys wait for each other instead of
    deadlocking."""
    raw = await _driver_connection(uow)
    params = {"org": uow.principal.organization_id}
    async with raw.cursor() as cursor:
        await _stage(uow, cursor, rows)
        await cursor.execute("SAVEPOINT fortium_claim")
        try:
            await cursor.execute(_CLAIM_ALL, params)
        except UniqueViolation:
            await cursor.execute("ROLLBACK TO SAVEPOINT fortium_claim")
            await cursor.execute(_CLAIM_NEW, params)
            fresh = [key for (key,) in await cursor.fetchall()]
            # Only the new rows may reach the rollups, which read the staging table next.
            await cursor.execute(f"DELETE FROM {_STAGING} WHERE dedup_key <> ALL(%(fresh)s)", {"fresh": fresh})
            return set(fresh)
        await cursor.execute("RELEASE SAVEPOINT fortium_claim")
    return {row[DEDUP_KEY] for row in rows}


async def _stage(uow: UnitOfWork, cursor, rows: list[list]) -> None:
    """Binary COPY of the rows, as they are, into the staging table. Its rows go at commit (ON
    COMMIT DELETE ROWS); a second call in the same transaction empties it first."""
    if uow.session.info.get(_STAGING):
        await cursor.execute(f"TRUNCATE {_STAGING}")
    else:
        await cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "
                             f"SELECT {', '.join(ROW_COLUMNS[:-1])}, attributes::text AS attributes "
                             f"FROM metric_events WITH NO DATA")
        uow.session.info[_STAGING] = True
    async with cursor.copy(f"COPY {_STAGING} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_COPY_TYPES)
        write = copy.write_row
        for row in rows:
            await write(row)
