"""Bulk writes of metric events with exact dedup, one implementation per dialect.

Both return the set of dedup keys that were new (their events are now stored); the others were
already known. Keys must be unique within one call (the caller dedups the batch first). Runs in
the caller's tenant-bound transaction, with `organization_id` already stamped on every row.
Rows come without an `id`: each writer gives the stored rows theirs.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from operator import itemgetter

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Uuid

from .models import MetricEvent
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


# SQLite: driver-level statements on the session's connection. The ORM's bulk insert costs about
# 100 µs a row in bind processing; formatting the values here as SQLAlchemy stores them on SQLite
# (UUIDs as 32 hex digits, naive UTC timestamps, JSON text) costs a few. tests/test_ingest.py reads
# the rows back through the ORM, which holds the two formats equal. The keys are claimed in one
# statement from a temporary table, so a concurrent writer can never make us store a key twice.
_SQLITE_KEYS = "temp.fortium_ingest_keys"
_SQLITE_INSERT = f"INSERT INTO metric_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def _sqlite_time(value: datetime) -> str:
    # Always with microseconds: SQLAlchemy binds query bounds that way, and stored text is compared.
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_converter(column):
    if isinstance(column.type, Uuid):
        return lambda value: value.hex if value is not None else None
    if isinstance(column.type, UTCDateTime):
        return lambda value: _sqlite_time(value) if value is not None else None
    if column.name == "attributes":
        return lambda value: orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return None  # stored as given (text, numbers, booleans as integers)


_SQLITE_CONVERTERS = [(c.name, _sqlite_converter(c)) for c in MetricEvent.__table__.columns]


_ID = next(i for i, (name, _) in enumerate(_SQLITE_CONVERTERS) if name == "id")
_TIME = next(i for i, (name, _) in enumerate(_SQLITE_CONVERTERS) if name == "occurred_at")


def _sqlite_row(row: dict, stamp: str) -> list:
    values = [convert(row[name]) if convert else row[name] for name, convert in _SQLITE_CONVERTERS if name != "id"]
    values.insert(_ID, os.urandom(16).hex())  # a fresh id; SQLAlchemy reads 32 hex digits as a UUID
    values[_TIME] = stamp
    return values


async def _write_portable(uow: UnitOfWork, rows: list[dict]) -> set[str]:
    # Every value is converted before the first write: SQLite has one write lock per database, and
    # other processes (import workers, hooks) wait while we hold it.
    stamps = [_sqlite_time(r["occurred_at"]) for r in rows]
    prepared = [_sqlite_row(r, stamp) for r, stamp in zip(rows, stamps)]
    connection = await uow.session.connection()
    raw = (await connection.get_raw_connection()).driver_connection  # aiosqlite
    await raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SQLITE_KEYS.split('.')[1]} "
                      "(organization_id TEXT, dedup_key TEXT, occurred_at TEXT)")
    org = rows[0]["organization_id"].hex  # one organisation per unit of work
    await raw.executemany(f"INSERT INTO {_SQLITE_KEYS} VALUES (?, ?, ?)",
                          [(org, r["dedup_key"], stamp) for r, stamp in zip(rows, stamps)])
    cursor = await raw.execute(
        f"INSERT INTO event_keys (organization_id, dedup_key, occurred_at) SELECT organization_id, dedup_key, occurred_at "
        f"FROM {_SQLITE_KEYS} WHERE true ON CONFLICT DO NOTHING RETURNING dedup_key")
    fresh = {key for (key,) in await cursor.fetchall()}
    await cursor.close()
    await raw.execute(f"DELETE FROM {_SQLITE_KEYS}")
    values = [row for row, r in zip(prepared, rows) if r["dedup_key"] in fresh]
    if values:
        await raw.executemany(_SQLITE_INSERT, values)
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
