"""One SQL projection of metric_events into the rollups' columns, used three ways: raw reads
(analytics over events no cube covers), rebuilding a cube, and maintaining the cubes as events
are written. Because all three run the same expressions, a cube's sums equal the raw answer.

Time is per organisation time zone:
* `bucket`: the UTC instant at which the event's local hour began. Computed as the event's time
  minus the part of the local hour already gone, so the two UTC hours of a DST fall-back stay
  apart and half-hour zones (India, +05:30) get buckets at :30.
* `day`: the event's local date.
* `hb`: a tool duration's logarithmic bucket, four per doubling (each about 19% wide): 0 below
  1 ms, else 1 + floor(4·log2(ms)). Percentiles are read off these buckets (analytics/measures).
PostgreSQL computes these in SQL; SQLite, which has no time zone database, through functions this
module registers on every connection (`register_sqlite_functions`).
"""
from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, Integer, SmallInteger, and_, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .rollups import NONE_ID, TEXT_DIMENSIONS
from .types import UTCDateTime

HB_PER_DOUBLING = 4


# -- time zones and duration buckets, in Python (SQLite; window splitting) ------------------------
@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def _slot(quarter: int, tz: str) -> tuple[datetime, date]:
    # Every zone offset in use is a multiple of 15 minutes (and so is every transition), so all
    # instants of one UTC quarter hour share their local hour and date: one answer per quarter.
    start = datetime.fromtimestamp(quarter * 900, timezone.utc)
    local = start.astimezone(zone(tz))
    return start - timedelta(minutes=local.minute), local.date()


def local_hour(instant: datetime, tz: str) -> tuple[datetime, date]:
    """(UTC instant at which `instant`'s local hour began, its local date)."""
    return _slot(int(instant.timestamp() // 900), tz)


def duration_bucket(ms: float | None) -> int | None:
    if ms is None:
        return None
    return 0 if ms < 1 else 1 + math.floor(HB_PER_DOUBLING * math.log2(ms))


def bucket_value(hb: int) -> float:
    """The value a histogram bucket stands for: its geometric middle (0 for the first)."""
    return 0.0 if hb == 0 else 2 ** ((hb - 0.5) / HB_PER_DOUBLING)


_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_bucket(text: str | None, tz: str) -> str | None:
    if text is None:
        return None
    instant = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    return local_hour(instant, tz)[0].strftime(_SQLITE_FORMAT)


def _sqlite_day(text: str | None, tz: str) -> str | None:
    if text is None:
        return None
    return local_hour(datetime.fromisoformat(text).replace(tzinfo=timezone.utc), tz)[1].isoformat()


def register_sqlite_functions(dbapi_connection) -> None:
    dbapi_connection.create_function("fm_bucket", 2, _sqlite_bucket, deterministic=True)
    dbapi_connection.create_function("fm_day", 2, _sqlite_day, deterministic=True)
    dbapi_connection.create_function("fm_hb", 1, duration_bucket, deterministic=True)


# -- the same in SQL ------------------------------------------------------------------------
class LocalBucket(FunctionElement):
    type = UTCDateTime()
    inherit_cache = True


class LocalDay(FunctionElement):
    type = Date()
    inherit_cache = True


class DurationBucket(FunctionElement):
    type = SmallInteger()
    inherit_cache = True


@compiles(LocalBucket, "postgresql")
def _pg_bucket(element, compiler, **kw):
    ts, tz = (compiler.process(arg, **kw) for arg in element.clauses)
    local = f"timezone({tz}, {ts})"
    return f"({ts} - ({local} - date_trunc('hour', {local})))"


@compiles(LocalDay, "postgresql")
def _pg_day(element, compiler, **kw):
    ts, tz = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(timezone({tz}, {ts}) AS DATE)"


@compiles(DurationBucket, "postgresql")
def _pg_hb(element, compiler, **kw):
    (ms,) = (compiler.process(arg, **kw) for arg in element.clauses)
    # In double precision (numeric logarithms cost a hundred times more); the tiny nudge keeps exact
    # powers of two in their own bucket, as Python's exact math.log2 does on SQLite.
    return (f"(CASE WHEN {ms} IS NULL THEN NULL WHEN {ms} < 1 THEN 0 "
            f"ELSE 1 + CAST(floor({HB_PER_DOUBLING} * ln({ms}) / ln(2.0) + 1e-9) AS integer) END)")


@compiles(LocalBucket, "sqlite")
def _sqlite_bucket_sql(element, compiler, **kw):
    return f"fm_bucket({compiler.process(element.clauses, **kw)})"


@compiles(LocalDay, "sqlite")
def _sqlite_day_sql(element, compiler, **kw):
    return f"fm_day({compiler.process(element.clauses, **kw)})"


@compiles(DurationBucket, "sqlite")
def _sqlite_hb_sql(element, compiler, **kw):
    return f"fm_hb({compiler.process(element.clauses, **kw)})"


# -- the projection ---------------------------------------------------------------------------
def _flag(condition) -> object:
    return case((condition, 1), else_=0)


def _zero(column) -> object:
    return func.coalesce(column, 0)


def projection_columns(c, tz) -> dict:
    """Per event: every cube dimension and measure input, named as in the cubes. `c` gives
    metric_events' columns by attribute (a table's `.c`, or the ORM class for tenant-filtered
    reads); `tz` is a bound parameter or literal time zone name."""
    columns = {
        "bucket": LocalBucket(c.occurred_at, tz),
        "day": LocalDay(c.occurred_at, tz),
        "user_id": func.coalesce(c.user_id, literal(NONE_ID, c.user_id.type)),
        "session_id": func.coalesce(c.session_id, ""),
        "team_id": func.coalesce(c.team_id, literal(NONE_ID, c.team_id.type)),
        "project_id": func.coalesce(c.project_id, literal(NONE_ID, c.project_id.type)),
        **{name: func.coalesce(getattr(c, name), "") for name in TEXT_DIMENSIONS},
        "hb": DurationBucket(c.duration_ms),
        "n": literal(1, Integer),
        "n_ok": _flag(c.success.is_(True)),
        "n_fail": _flag(c.success.is_(False)),
        "dur_n": _flag(c.duration_ms.is_not(None)),
        "dur_sum": cast(_zero(c.duration_ms), Float),
        "dur_max": cast(_zero(c.duration_ms), Float),
        "input_tokens": _zero(c.input_tokens), "output_tokens": _zero(c.output_tokens),
        "cache_read_tokens": _zero(c.cache_read_tokens), "cache_write_tokens": _zero(c.cache_write_tokens),
        "cache_write_5m_tokens": _zero(c.cache_write_5m_tokens), "cache_write_1h_tokens": _zero(c.cache_write_1h_tokens),
        "cost_usd": cast(_zero(c.cost_usd), Float),
        "lines_added": _zero(c.lines_added), "lines_removed": _zero(c.lines_removed),
        "value_sum": cast(_zero(c.value), Float),
    }
    return columns


def projection(src, tz, *conditions):
    """A SELECT of `projection_columns` over table `src`, with `occurred_at` kept for window filters."""
    columns = projection_columns(src.c, tz)
    return select(src.c.occurred_at, *(expr.label(name) for name, expr in columns.items())).where(and_(True, *conditions))


def nil(value) -> object:
    """A stored key value back to what it stands for ('' and the nil UUID are 'none')."""
    return None if value in ("", NONE_ID, None) else value


def is_nil_id(value) -> bool:
    return value == NONE_ID or value == uuid.UUID(int=0)
