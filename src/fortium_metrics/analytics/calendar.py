"""Local hours and days of an organisation's time zone, and how a window splits into them.

A window [start, end) is answered by the coarsest rollups that fit inside it: whole local days
from the daily cubes, the whole hours left at either side from the hourly cube, and the minutes
left at the very edges from the raw events (see plan.py). Windows that begin and end at local
midnight, as the dashboard's presets do, are whole days only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from ..store.rollup_sql import local_hour, zone

HOUR = timedelta(hours=1)


def local_date(instant: datetime, tz: str) -> date:
    return local_hour(instant, tz)[1]


def day_start(day: date, tz: str) -> datetime:
    """The first instant whose local date is `day` (local midnight, or the end of a DST gap)."""
    instant = datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(timezone.utc)
    while local_date(instant, tz) < day:
        instant += timedelta(minutes=15)
    while local_date(instant - timedelta(minutes=15), tz) >= day:
        instant -= timedelta(minutes=15)
    return instant


def hour_floor(instant: datetime, tz: str) -> datetime:
    return local_hour(instant, tz)[0]


def hour_ceil(instant: datetime, tz: str) -> datetime:
    floor = hour_floor(instant, tz)
    return floor if floor == instant else floor + HOUR


def day_ceil(instant: datetime, tz: str) -> datetime:
    start = day_start(local_date(instant, tz), tz)
    return start if start == instant else day_start(local_date(instant, tz) + timedelta(days=1), tz)


def day_floor(instant: datetime, tz: str) -> datetime:
    return day_start(local_date(instant, tz), tz)


@dataclass(frozen=True)
class Segment:
    """A part of a window and the grain that answers it: `raw`, `hour` or `day`."""

    grain: str
    start: datetime
    end: datetime
    first_day: date | None = None  # day segments: [first_day, end_day) in local dates
    end_day: date | None = None


def split(start: datetime, end: datetime, tz: str, finest: str) -> list[Segment]:
    """[start, end) as raw edges, whole hours and (when `finest` is "day") whole local days."""
    if finest == "raw":
        return [Segment("raw", start, end)]
    first_hour, last_hour = hour_ceil(start, tz), hour_floor(end, tz)
    if first_hour >= last_hour:
        return [Segment("raw", start, end)]
    inner = [Segment("hour", first_hour, last_hour)]
    if finest == "day":
        first_day, last_day = day_ceil(first_hour, tz), day_floor(last_hour, tz)
        if first_day < last_day:
            inner = [Segment("hour", first_hour, first_day),
                     Segment("day", first_day, last_day, local_date(first_day, tz), local_date(last_day, tz)),
                     Segment("hour", last_day, last_hour)]
    edges = [Segment("raw", start, first_hour), *inner, Segment("raw", last_hour, end)]
    return [s for s in edges if s.start < s.end]


def local_days_window(days: int, tz: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last `days` local days, today included: [midnight `days`-1 days ago, next midnight)."""
    today = local_date(now or datetime.now(timezone.utc), tz)
    return day_start(today - timedelta(days=days - 1), tz), day_start(today + timedelta(days=1), tz)
