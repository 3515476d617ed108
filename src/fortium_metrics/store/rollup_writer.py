"""Keeping the analytics rollups equal to metric_events.

New events are folded into the cubes in two steps: the one projection of rollup_sql.py reads
them once into two temporary "delta" tables (their sums per hourly-cube key, and their tool
durations per histogram key), then each cube adds the delta grouped by its own keys (INSERT ...
SELECT ... ON CONFLICT DO UPDATE). The same fold serves both uses:

* `add_events`: in the transaction that stores new events (imports of old history land in their
  old days like anything else);
* `rebuild`: an organisation's cubes emptied and refolded from all its events (after a time zone
  change or a new cube definition), recorded in rollup_state.

On PostgreSQL a rebuild takes an exclusive advisory lock per organisation and every writer a
shared one, so a rebuild never interleaves with a transaction adding to the same cubes. SQLite
has one write lock, which does the same.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import Column, MetaData, String, Table, Uuid, bindparam, delete, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import MetricEvent
from .rollup_sql import projection
from .rollups import (CUBES, HISTOGRAMS, MAX_COLUMNS, MEASURE_COLUMNS, VERSION, RollupHourly, RollupState,
                      RollupToolDurations)
from .uow import TENANT_CHECKED, UnitOfWork

ORG = bindparam("org", type_=Uuid)
TZ = bindparam("tz", type_=String)
_CHECKED = {TENANT_CHECKED: True}
# Two int4 keys: this class of lock, and the organisation (hashtext of its id).
_LOCK = "SELECT pg_advisory_xact_lock{mode}(7120, hashtext(:org))"


# The deltas: one row per key of the finest cubes, for the events being folded in.
DELTA = Table("fortium_rollup_delta", MetaData(), *(Column(c.name, c.type) for c in RollupHourly.__table__.columns),
              prefixes=["TEMPORARY"])
DELTA_DURATIONS = Table("fortium_rollup_delta_durations", MetaData(),
                        *(Column(c.name, c.type) for c in RollupToolDurations.__table__.columns), prefixes=["TEMPORARY"])


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


def _insert(uow: UnitOfWork, table: Table):
    return (pg_insert if uow.dialect == "postgresql" else sqlite_insert)(table)


def _upsert(uow: UnitOfWork, cube, rows):
    """Add `rows` (a delta) to `cube`, grouped by the cube's keys."""
    table = cube.__table__  # the Core table: with the ORM class, SQLAlchemy would take the parameters for rows
    keys, sums = _keys(table), _sums(table)
    extra = ["day"] if cube is RollupHourly else []  # the bucket's local date rides along
    insert = _insert(uow, table).from_select(["organization_id", *keys, *extra, *sums],
                                             _aggregate([*keys, *extra], sums, rows))
    greatest = func.greatest if uow.dialect == "postgresql" else func.max  # SQLite's max(a, b) is scalar
    update = {m: greatest(table.c[m], insert.excluded[m]) if m in MAX_COLUMNS else table.c[m] + insert.excluded[m]
              for m in sums}
    return insert.on_conflict_do_update(index_elements=[c.name for c in table.primary_key.columns], set_=update)


async def _execute(uow: UnitOfWork, statement, **params) -> None:
    await uow.session.execute(statement.execution_options(**_CHECKED), {"org": uow.principal.organization_id, **params})


_DELTAS = ((DELTA, "rollup_hourly"), (DELTA_DURATIONS, "rollup_tool_durations"))


async def _deltas(uow: UnitOfWork) -> None:
    """The temporary delta tables: created once per connection, empty when a fold begins.
    PostgreSQL empties them at commit; a second fold in one transaction empties them first.
    SQLite has no ON COMMIT: each fold empties them when it ends (see _fold)."""
    if uow.dialect == "postgresql":
        if uow.session.info.get(DELTA.name):
            await _execute(uow, text(f"TRUNCATE {DELTA.name}, {DELTA_DURATIONS.name}"))
        for table, like in _DELTAS:
            await _execute(uow, text(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} (LIKE {like}) ON COMMIT DELETE ROWS"))
        uow.session.info[DELTA.name] = True
        return
    for table, like in _DELTAS:
        await _execute(uow, text(f"CREATE TEMP TABLE IF NOT EXISTS {table.name} AS SELECT * FROM {like} WHERE 0"))


async def _fold(uow: UnitOfWork, rows, tz: str, **params) -> None:
    """Fold the events of `rows` (a projection subquery) into every cube, through the deltas."""
    await _deltas(uow)
    hourly = RollupHourly.__table__
    keys, sums = _keys(hourly), _sums(hourly)
    await _execute(uow, _insert(uow, DELTA).from_select(
        ["organization_id", *keys, "day", *sums], _aggregate([*keys, "day"], sums, rows)), tz=tz, **params)
    histogram = RollupToolDurations.__table__
    keys = _keys(histogram)
    await _execute(uow, _insert(uow, DELTA_DURATIONS).from_select(
        ["organization_id", *keys, "n"],
        _aggregate(keys, ["n"], rows, rows.c.kind == "tool_execution", rows.c.hb.is_not(None))), tz=tz, **params)
    for cube in CUBES:
        await _execute(uow, _upsert(uow, cube, DELTA_DURATIONS if cube in HISTOGRAMS else DELTA))
    if uow.dialect != "postgresql":
        for table, _ in _DELTAS:
            await _execute(uow, text(f"DELETE FROM temp.{table.name}"))


async def timezone_of(uow: UnitOfWork) -> str:
    from .models import Organization

    settings = await uow.session.scalar(select(Organization.settings).where(Organization.id == uow.principal.organization_id))
    return (settings or {}).get("timezone") or "UTC"


async def add_events(uow: UnitOfWork, source, *conditions, **params) -> None:
    """Add the events of `source` (a table with metric_events' columns, filtered by `conditions`)
    to every cube of the unit of work's organisation."""
    if uow.dialect == "postgresql":
        await _execute(uow, text(_LOCK.format(mode="_shared")), org=str(uow.principal.organization_id))
    await _fold(uow, projection(source, TZ, *conditions).subquery("new_events"), await timezone_of(uow), **params)


def sqlite_rowid_after(lo: int):
    """The condition for 'rows this transaction inserted' on SQLite: rowids grow, and the write
    lock is ours for the whole transaction."""
    return literal_column("metric_events.rowid") > bindparam("lo")


async def sqlite_last_rowid(uow: UnitOfWork) -> int:
    statement = text("SELECT coalesce(max(rowid), 0) FROM metric_events").execution_options(**_CHECKED)
    return (await uow.session.execute(statement)).scalar_one()


async def rebuild(uow: UnitOfWork) -> int:
    """Recompute every cube of the unit of work's organisation; returns the events read."""
    org = uow.principal.organization_id
    if uow.dialect == "postgresql":
        await _execute(uow, text(_LOCK.format(mode="")), org=str(org))
    tz = await timezone_of(uow)
    for cube in CUBES:
        await uow.session.execute(delete(cube).where(cube.organization_id == org))
    events = MetricEvent.__table__
    await _fold(uow, projection(events, TZ, events.c.organization_id == ORG).subquery("events"), tz)
    await _mark_built(uow, tz)
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
