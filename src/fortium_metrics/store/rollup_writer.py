"""Keeping the analytics rollups equal to metric_events.

* `add_events`: in the same transaction that stores new events, their sums are added to every
  cube (INSERT ... SELECT ... ON CONFLICT DO UPDATE from the one projection in rollup_sql.py).
  Imports of old history land in their old days like anything else.
* `rebuild`: an organisation's cubes recomputed from its events (after a time zone change or a
  new cube definition), recorded in rollup_state. Finer cubes feed coarser ones.

On PostgreSQL a rebuild takes an exclusive advisory lock per organisation and every writer a
shared one, so a rebuild never interleaves with a transaction adding to the same cubes. SQLite
has one write lock, which does the same.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import Uuid, bindparam, delete, func, literal_column, select, String, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import MetricEvent
from .rollup_sql import projection
from .rollups import (CUBES, MAX_COLUMNS, MEASURE_COLUMNS, VERSION, RollupDaily, RollupDailyOrg, RollupHourly, RollupPresence,
                      RollupState, RollupToolDurations, RollupToolDurationsOrg)
from .uow import TENANT_CHECKED, UnitOfWork

ORG = bindparam("org", type_=Uuid)
TZ = bindparam("tz", type_=String)
_CHECKED = {TENANT_CHECKED: True}
# Two int4 keys: this class of lock, and the organisation (hashtext of its id).
_LOCK = "SELECT pg_advisory_xact_lock{mode}(7120, hashtext(:org))"


def _keys(cube) -> list[str]:
    return [c.name for c in cube.__table__.primary_key.columns if c.name != "organization_id"]


def _sums(cube) -> list[str]:
    return [c.name for c in cube.__table__.columns if c.name in MEASURE_COLUMNS or c.name == "n"]


def _aggregate(cube, rows):
    """SELECT org, the cube's keys, the sums of its measures FROM `rows` (a projection of events,
    or a finer cube: both name their columns alike) GROUP BY the keys."""
    keys, sums = _keys(cube), _sums(cube)
    extra = [rows.c.day] if cube is RollupHourly else []  # the hour's local date rides along
    statement = select(ORG, *(rows.c[k] for k in keys), *extra,
                       *((func.max if m in MAX_COLUMNS else func.sum)(rows.c[m]) for m in sums))
    statement = statement.group_by(*(rows.c[k] for k in keys), *extra)
    if cube in (RollupToolDurations, RollupToolDurationsOrg):
        statement = statement.where(rows.c.kind == "tool_execution", rows.c.hb.is_not(None))
    return statement, ["organization_id", *keys, *(["day"] if extra else []), *sums]


def _upsert(uow: UnitOfWork, cube, rows):
    statement, columns = _aggregate(cube, rows)
    table = cube.__table__  # the Core table: with the ORM class, SQLAlchemy would take the parameters for rows
    insert = (pg_insert if uow.dialect == "postgresql" else sqlite_insert)(table).from_select(columns, statement)
    greatest = func.greatest if uow.dialect == "postgresql" else func.max  # SQLite's max(a, b) is scalar
    update = {m: greatest(table.c[m], insert.excluded[m]) if m in MAX_COLUMNS else table.c[m] + insert.excluded[m]
              for m in _sums(cube)}
    return insert.on_conflict_do_update(index_elements=[c.name for c in table.primary_key.columns], set_=update)


async def _run(uow: UnitOfWork, statement, tz: str, **params) -> None:
    await uow.session.execute(statement.execution_options(**_CHECKED),
                              {"org": uow.principal.organization_id, "tz": tz, **params})


async def timezone_of(uow: UnitOfWork) -> str:
    from .models import Organization

    settings = await uow.session.scalar(select(Organization.settings).where(Organization.id == uow.principal.organization_id))
    return (settings or {}).get("timezone") or "UTC"


async def add_events(uow: UnitOfWork, source, *conditions, **params) -> None:
    """Add the events of `source` (a table with metric_events' columns, filtered by `conditions`)
    to every cube of the unit of work's organisation."""
    if uow.dialect == "postgresql":
        await uow.session.execute(text(_LOCK.format(mode="_shared")).execution_options(**_CHECKED),
                                  {"org": str(uow.principal.organization_id)})
    tz = await timezone_of(uow)
    rows = projection(source, TZ, *conditions).subquery("new_events")
    for cube in CUBES:
        await _run(uow, _upsert(uow, cube, rows), tz, **params)


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
        await uow.session.execute(text(_LOCK.format(mode="")).execution_options(**_CHECKED), {"org": str(org)})
    tz = await timezone_of(uow)
    for cube in CUBES:
        await uow.session.execute(delete(cube).where(cube.organization_id == org))
    events = MetricEvent.__table__
    raw = projection(events, TZ, events.c.organization_id == ORG).subquery("events")
    await _run(uow, _upsert(uow, RollupHourly, raw), tz)
    hourly = select(RollupHourly.__table__).where(RollupHourly.organization_id == ORG).subquery("hourly")
    daily = select(RollupDaily.__table__).where(RollupDaily.organization_id == ORG).subquery("daily")
    for cube, rows in ((RollupDaily, hourly), (RollupDailyOrg, daily), (RollupPresence, hourly),
                       (RollupToolDurations, raw), (RollupToolDurationsOrg, raw)):
        await _run(uow, _upsert(uow, cube, rows), tz)
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


async def is_current(uow: UnitOfWork) -> bool:
    """Whether the organisation's rollups were built for the current cube definition and its
    current time zone (otherwise analytics reads raw events until the rebuild)."""
    state = await uow.session.get(RollupState, uow.principal.organization_id)
    return state is not None and state.version == VERSION and state.timezone == await timezone_of(uow)


def new_org_state(org: uuid.UUID, tz: str = "UTC") -> RollupState:
    """An organisation with no events has rollups that are trivially current."""
    return RollupState(organization_id=org, version=VERSION, timezone=tz, built_at=datetime.now(timezone.utc))
