"""Keeping the analytics rollups equal to metric_events.

New events are folded into the cubes in two steps: the one projection of rollup_sql.py reads
them once into two temporary "delta" tables (their sums per hourly-cube key, and their tool
durations per histogram key), then each cube adds the delta grouped by its own keys (INSERT ...
SELECT ... ON CONFLICT DO UPDATE). The same fold serves both uses:

* `add_events`: in the transaction that stores new events (imports of old history land in their
  old days like anything else);
* `rebuild`: an organisation's cubes emptied and refolded from all its events (after a time zone
  change or a new cube definition), recorded in rollup_state.

The fold runs on every ingestion transaction, one MCP call's single event included, so its
statements are compiled once per process (SQLAlchemy builds them from the same expressions the
reads use) and sent on the driver connection: in one worker-thread hop on SQLite, in one pipeline
on PostgreSQL. The organisation's time zone is read inside the statements.

On PostgreSQL a rebuild takes an exclusive advisory lock per organisation and every writer a
shared one, so a rebuild never interleaves with a transaction adding to the same cubes. SQLite
has one write lock, which does the same.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache

from sqlalchemy import Column, MetaData, Table, Uuid, bindparam, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from .models import MetricEvent, Organization
from .rollup_sql import OrganizationTimezone, projection
from .rollups import (CUBES, HISTOGRAMS, MAX_COLUMNS, MEASURE_COLUMNS, VERSION, RollupHourly, RollupState,
                      RollupToolDurations)
from .uow import UnitOfWork

ORG = bindparam("org", type_=Uuid)
# The organisation's time zone, read by the statements themselves (evaluated once per statement).
TZ = select(func.coalesce(OrganizationTimezone(Organization.settings), "UTC")).where(
    Organization.id == ORG).scalar_subquery()

# The deltas: one row per key of the finest cubes, for the events being folded in.
DELTA = Table("fortium_rollup_delta", MetaData(), *(Column(c.name, c.type) for c in RollupHourly.__table__.columns),
              prefixes=["TEMPORARY"])
DELTA_DURATIONS = Table("fortium_rollup_delta_durations", MetaData(),
                        *(Column(c.name, c.type) for c in RollupToolDurations.__table__.columns), prefixes=["TEMPORARY"])
_DELTAS = ((DELTA, "rollup_hourly"), (DELTA_DURATIONS, "rollup_tool_durations"))


def _keys(table) -> list[str]:
    return [c.name for c in table.primary_key.columns if c.name != "organization_id"]


def _sums(table) -> list[str]:
    return [c.name for c in table.columns if c.name in MEASURE_COLUMNS]


def _combine(name: str):
    return func.max if name in MAX_COLUMNS else func.sum


def _aggregate(keys: list[str], sums: list[str], rows, *where):
    """SELECT org, `keys`, the sums (or maxima) of `sums` FROM `rows` GROUP BY `keys`."""
    statement = select(ORG, *(rows.c[k] for k in keys), *(_combine(m)(rows.c[m]) for m in sums))
    return statement.where(*where).group_by(*(rows.c[k] for k in keys))


def _insert(dialect: str, table: Table):
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def _upsert(dialect: str, cube, rows, *where):
    """Add `rows` (a delta, or the projection of new events) to `cube`, grouped by its keys."""
    table = cube.__table__
    keys, sums = _keys(table), _sums(table)
    extra = ["day"] if cube is RollupHourly else []  # the bucket's local date rides along
    insert = _insert(dialect, table).from_select(["organization_id", *keys, *extra, *sums],
                                                 _aggregate([*keys, *extra], sums, rows, *where))
    greatest = func.greatest if dialect == "postgresql" else func.max  # SQLite's max(a, b) is scalar
    update = {m: greatest(table.c[m], insert.excluded[m]) if m in MAX_COLUMNS else table.c[m] + insert.excluded[m]
              for m in sums}
    return insert.on_conflict_do_update(index_elements=[c.name for c in table.primary_key.columns], set_=update)


def _fill_deltas(dialect: str, rows) -> list:
    """The two statements that read new events (`rows`, a projection) into the deltas."""
    hourly, histogram = RollupHourly.__table__, RollupToolDurations.__table__
    keys, sums = _keys(hourly), _sums(hourly)
    return [
        _insert(dialect, DELTA).from_select(["organization_id", *keys, "day", *sums],
                                            _aggregate([*keys, "day"], sums, rows)),
        _insert(dialect, DELTA_DURATIONS).from_select(
            ["organization_id", *_keys(histogram), "n"],
            _aggregate(_keys(histogram), ["n"], rows, rows.c.kind == "tool_execution", rows.c.hb.is_not(None))),
    ]


# -- statements compiled once -------------------------------------------------------------------
_DIALECTS = {"sqlite": lambda: SQLiteDialect_pysqlite(paramstyle="named"), "postgresql": PGDialect_psycopg}


@dataclass(frozen=True)
class Prepared:
    """A statement compiled for the driver: its SQL, and how to bind `org` (and `lo`)."""

    sql: str
    binds: Callable[[dict], dict]


_VARIABLE = ("org", "count")  # the parameters a fold binds; every other one is a constant of the statement


def _prepare(statement, dialect: str) -> Prepared:
    engine_dialect = _DIALECTS[dialect]()
    compiled = statement.compile(dialect=engine_dialect)
    processors = {compiled.bind_names[b]: b.type.bind_processor(engine_dialect) for b in compiled.binds.values()}

    def processed(values: dict) -> dict:
        return {name: (processors[name](v) if processors.get(name) else v) for name, v in values.items()}

    variable = [k for k in _VARIABLE if k in compiled.binds]
    constants = processed(compiled.construct_params({k: None for k in variable}))

    def binds(given: dict) -> dict:
        return {**constants, **processed({k: given[k] for k in variable})}

    return Prepared(str(compiled), binds)


def _text(sql: str) -> Prepared:
    return Prepared(sql, lambda given: {k: v for k, v in given.items() if f":{k}" in sql or f"%({k})s" in sql})


def _new_events(source: str):
    events = MetricEvent.__table__
    if source == "staging":  # PostgreSQL: the rows COPYed for this transaction (store/event_writer.py)
        from .event_writer import STAGING_TABLE

        return projection(STAGING_TABLE, TZ).subquery("new_events")
    if source == "inserted":
        # SQLite: the `count` rows this transaction inserted last (rowids grow, and the write lock
        # is ours). A rowid range only: with an organisation condition SQLite would scan the
        # organisation's whole index instead.
        last = select(func.max(literal_column("rowid"))).select_from(events).scalar_subquery()
        return projection(events, TZ, literal_column("metric_events.rowid") > last - bindparam("count")
                          ).subquery("new_events")
    return projection(events, TZ, events.c.organization_id == ORG).subquery("new_events")  # a rebuild


@cache
def _fold_plan(dialect: str, source: str, few: bool) -> list[Prepared]:
    """Every statement of a fold, compiled once. With `few` new events each cube reads them
    directly (fewer statements); with many, they are read once into the deltas and the cubes
    read those."""
    rows = _new_events(source)
    tools = (rows.c.kind == "tool_execution", rows.c.hb.is_not(None))
    if few:
        statements = [_upsert(dialect, cube, rows, *(tools if cube in HISTOGRAMS else ())) for cube in CUBES]
        return [_prepare(s, dialect) for s in statements]
    statements = [*_fill_deltas(dialect, rows),
                  *(_upsert(dialect, cube, DELTA_DURATIONS if cube in HISTOGRAMS else DELTA) for cube in CUBES)]
    prepared = [_prepare(s, dialect) for s in statements]
    if dialect == "postgresql":
        return prepared
    return prepared + [_text(f"DELETE FROM temp.{table.name}") for table, _ in _DELTAS]  # no ON COMMIT there


async def _driver(uow: UnitOfWork):
    connection = await uow.session.connection()
    return (await connection.get_raw_connection()).driver_connection


async def _run(uow: UnitOfWork, statements: list[Prepared], **given) -> None:
    """On the unit of work's connection and transaction, in one go."""
    raw = await _driver(uow)
    given = {"org": uow.principal.organization_id, "org_text": str(uow.principal.organization_id), **given}
    if uow.dialect == "postgresql":
        async with raw.pipeline(), raw.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement.sql, statement.binds(given) or None)
        return

    def run_all() -> None:
        for statement in statements:
            raw._conn.execute(statement.sql, statement.binds(given))

    await raw._execute(run_all)  # aiosqlite's worker thread: one hop for the whole fold


FEW = 64  # up to this many new events, each cube reads them directly


async def _fold(uow: UnitOfWork, source: str, lock: str, count: int | None = None) -> None:
    few = count is not None and count <= FEW
    connection = await uow.session.connection()
    statements = []
    if uow.dialect == "postgresql":
        statements.append(_text(f"SELECT pg_advisory_xact_lock{lock}(7120, hashtext(%(org_text)s))"))
    if not few and not connection.info.get(DELTA.name):  # created once per database connection
        statements += _delta_tables(uow.dialect)
        connection.info[DELTA.name] = True
    if uow.dialect == "postgresql" and not few and uow.session.info.get(DELTA.name):  # a second fold here
        statements.append(_text(f"TRUNCATE {DELTA.name}, {DELTA_DURATIONS.name}"))
    uow.session.info[DELTA.name] = uow.session.info.get(DELTA.name) or not few
    await _run(uow, statements + _fold_plan(uow.dialect, source, few), count=count or 0)


def _delta_tables(dialect: str) -> list[Prepared]:
    if dialect == "postgresql":
        return [_text(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} (LIKE {like}) ON COMMIT DELETE ROWS")
                for table, like in _DELTAS]
    return [_text(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} AS SELECT * FROM {like} WHERE 0") for table, like in _DELTAS]


async def add_events(uow: UnitOfWork, source: str, count: int) -> None:
    """Add this transaction's `count` new events to every cube of the unit of work's
    organisation: `source` "staging" (PostgreSQL) or "inserted" (SQLite: the last rows inserted)."""
    await _fold(uow, source, "_shared", count)


async def timezone_of(uow: UnitOfWork) -> str:
    settings = await uow.session.scalar(select(Organization.settings).where(Organization.id == uow.principal.organization_id))
    return (settings or {}).get("timezone") or "UTC"


async def rebuild(uow: UnitOfWork) -> int:
    """Recompute every cube of the unit of work's organisation; returns the events read."""
    org = uow.principal.organization_id
    if uow.dialect == "postgresql":  # writers of this organisation wait until the rebuild commits
        await _run(uow, [_text("SELECT pg_advisory_xact_lock(7120, hashtext(%(org_text)s))")])
    for cube in CUBES:
        await uow.session.execute(delete(cube).where(cube.organization_id == org))
    await _fold(uow, "organisation", "")
    await _mark_built(uow, await timezone_of(uow))
    return await uow.session.scalar(select(func.coalesce(func.sum(RollupHourly.n), 0))) or 0


async def _mark_built(uow: UnitOfWork, tz: str) -> None:
    state = await uow.session.get(RollupState, uow.principal.organization_id)
    now = datetime.now(timezone.utc)
    if state is None:
        uow.session.add(RollupState(organization_id=uow.principal.organization_id, version=VERSION, timezone=tz,
                                    built_at=now))
    else:
        state.version, state.timezone, state.built_at = VERSION, tz, now
    await uow.session.flush()


async def is_current(uow: UnitOfWork, tz: str) -> bool:
    """Whether the organisation's rollups were built for the current cube definition and its
    time zone `tz` (otherwise analytics reads raw events until the rebuild)."""
    state = await uow.session.get(RollupState, uow.principal.organization_id)
    return state is not None and state.version == VERSION and state.timezone == tz


def new_org_state(org: uuid.UUID, tz: str = "UTC") -> RollupState:
    """An organisation with no events has rollups that are trivially current."""
    return RollupState(organization_id=org, version=VERSION, timezone=tz, built_at=datetime.now(timezone.utc))
