"""Trends with pandas, all computed over `query` results (so the same rules of who sees what
apply): a series with its rolling mean, period-over-period change and weekday pattern; teams
compared with ranks and percentiles; adoption (the share of a team active each week); and a
month-end forecast with an interval. docs/analytics.md writes out every formula.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from ..errors import Invalid
from ..store.models import Team, TeamMembership
from ..store.rollup_writer import timezone_of
from ..store.uow import UnitOfWork
from .calendar import day_start, local_date, local_days_window
from .catalogue import MEASURES, PUBLIC_MEASURES
from .query import AnalyticsQuery, query

ROLLING_DAYS = 7
FORECAST_BASIS_DAYS = 28
Z_80 = 1.2815515655446004  # the 90th percentile of the standard normal: an 80% two-sided interval
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _check(measure: str) -> str:
    if measure not in PUBLIC_MEASURES:
        raise Invalid(f"measure: unknown {measure!r}; known: {', '.join(PUBLIC_MEASURES)}", field="measure")
    return measure


def change(current: float | None, previous: float | None) -> float | None:
    """(current − previous) / previous; None when there is no previous value to compare with."""
    if current is None or not previous:
        return None
    return (current - previous) / previous


# -- a series ---------------------------------------------------------------------------------
class TrendPoint(BaseModel):
    day: date
    value: float | None
    rolling_mean: float | None = Field(description=f"Mean of the last {ROLLING_DAYS} days (fewer at the start).")


class WeekdayShare(BaseModel):
    weekday: str
    mean: float | None = Field(description="Mean daily value on this weekday.")
    share: float | None = Field(description="This weekday's part of the total.")


class Trend(BaseModel):
    measure: str
    start: datetime
    end: datetime
    total: float | None
    previous_total: float | None
    change: float | None = Field(description="(total − previous_total) / previous_total.")
    points: list[TrendPoint]
    weekdays: list[WeekdayShare]


async def trend(uow: UnitOfWork, measure: str, days: int = 30, filters: dict[str, list[str]] | None = None,
                now: datetime | None = None) -> Trend:
    start, end = local_days_window(days, await timezone_of(uow), now)
    result = await query(uow, AnalyticsQuery(measures=[_check(measure)], group_by=["day"], filters=filters or {},
                                             start=start, end=end, compare="previous", limit=10_000))
    frame = pd.DataFrame(result.rows, columns=["day", measure])
    frame["day"] = pd.to_datetime(frame["day"])
    values = frame[measure].astype("float64")
    frame["rolling"] = values.rolling(ROLLING_DAYS, min_periods=1).mean()
    frame["weekday"] = frame["day"].dt.day_of_week
    by_weekday = values.groupby(frame["weekday"]).mean()
    total_of_days = values.sum()
    weekday_totals = values.groupby(frame["weekday"]).sum()
    points = [TrendPoint(day=row.day.date(), value=_float(getattr(row, measure)), rolling_mean=_float(row.rolling))
              for row in frame.itertuples()]
    weekdays = [WeekdayShare(weekday=WEEKDAYS[d], mean=_float(by_weekday.get(d)),
                             share=_float(weekday_totals.get(d) / total_of_days) if total_of_days else None)
                for d in range(7) if d in by_weekday.index]
    total, previous = result.totals.get(measure), (result.previous or {}).get(measure)
    return Trend(measure=measure, start=result.start, end=result.end, total=total, previous_total=previous,
                 change=change(total, previous), points=points, weekdays=weekdays)


def _float(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


# -- teams compared -----------------------------------------------------------------------------
class TeamStanding(BaseModel):
    team: str | None
    values: dict[str, float | int | None]
    ranks: dict[str, int | None] = Field(description="1 = highest value; ties share the best rank.")
    percentiles: dict[str, float | None] = Field(description="Share of teams with a value at most this one's.")


async def compare_teams(uow: UnitOfWork, measures: list[str], days: int = 90,
                        filters: dict[str, list[str]] | None = None) -> list[TeamStanding]:
    result = await query(uow, AnalyticsQuery(measures=[_check(m) for m in measures], group_by=["team"],
                                             filters=filters or {}, days=days, limit=10_000))
    rows = [r for r in result.rows if r["team"] is not None]
    if not rows:
        return []
    frame = pd.DataFrame(rows).set_index("team")
    ranks = frame[measures].rank(ascending=False, method="min")
    percentiles = frame[measures].rank(pct=True, method="max")
    return [TeamStanding(team=team, values={m: frame.at[team, m] for m in measures},
                         ranks={m: None if pd.isna(ranks.at[team, m]) else int(ranks.at[team, m]) for m in measures},
                         percentiles={m: _float(percentiles.at[team, m]) for m in measures})
            for team in frame.sort_values(measures[0], ascending=False).index]


# -- adoption -----------------------------------------------------------------------------------
class Adoption(BaseModel):
    team: str
    week: date
    active: int
    members: int
    share: float | None = Field(description="active / members.")


async def adoption(uow: UnitOfWork, weeks: int = 12, filters: dict[str, list[str]] | None = None,
                   now: datetime | None = None) -> list[Adoption]:
    """Per team and local week (the last `weeks` whole weeks, this one included): the share of the
    team's (current) members active that week."""
    if not 1 <= weeks <= 104:
        raise Invalid("weeks: between 1 and 104", field="weeks")
    tz = await timezone_of(uow)
    today = local_date(now or datetime.now(timezone.utc), tz)
    monday = today - timedelta(days=today.weekday())
    result = await query(uow, AnalyticsQuery(
        measures=["active_users"], group_by=["team", "week"], filters=filters or {}, limit=10_000,
        start=day_start(monday - timedelta(weeks=weeks - 1), tz), end=day_start(monday + timedelta(weeks=1), tz)))
    sizes = dict((await uow.session.execute(
        select(Team.slug, func.count(TeamMembership.user_id)).join(TeamMembership, TeamMembership.team_id == Team.id)
        .group_by(Team.slug))).all())
    return [Adoption(team=r["team"], week=date.fromisoformat(r["week"]), active=r["active_users"] or 0,
                     members=sizes.get(r["team"], 0),
                     share=round((r["active_users"] or 0) / sizes[r["team"]], 4) if sizes.get(r["team"]) else None)
            for r in result.rows if r["team"] is not None and r["active_users"] is not None]


# -- forecast -----------------------------------------------------------------------------------
class Forecast(BaseModel):
    measure: str
    month_start: date
    month_end: date
    to_date: float
    forecast: float
    low: float = Field(description="80% interval, low end (never below what is already spent).")
    high: float
    daily_mean: float
    daily_stdev: float
    days_left: int


async def forecast(uow: UnitOfWork, measures: list[str] | None = None, now: datetime | None = None,
                   filters: dict[str, list[str]] | None = None) -> list[Forecast]:
    """Month-end totals of additive measures (default cost and tokens): what the month has so far
    plus the mean of the last 28 full days for each day left, with an 80% interval."""
    measures = measures or ["cost_usd", "input_tokens", "output_tokens"]
    for measure in measures:
        if MEASURES[_check(measure)].family != "sum":
            raise Invalid(f"measures: {measure!r} is not a sum, so it has no month total", field="measures")
    now = now or datetime.now(timezone.utc)
    tz = await timezone_of(uow)
    today = local_date(now, tz)
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    basis_start = today - timedelta(days=FORECAST_BASIS_DAYS)
    first = min(basis_start, month_start)
    result = await query(uow, AnalyticsQuery(measures=measures, group_by=["day"], filters=filters or {},
                                             start=day_start(first, tz), end=day_start(today + timedelta(days=1), tz),
                                             limit=10_000))
    frame = pd.DataFrame(result.rows)
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    days_left = (next_month - today).days - 1  # after today
    found = []
    for measure in measures:
        to_date = float(frame.loc[frame["day"] >= month_start, measure].sum())
        basis = frame.loc[(frame["day"] >= basis_start) & (frame["day"] < today), measure].astype("float64")
        mean, stdev = float(basis.mean()), float(basis.std(ddof=1)) if len(basis) > 1 else 0.0
        spread = Z_80 * stdev * math.sqrt(days_left)
        expected = to_date + mean * days_left
        found.append(Forecast(measure=measure, month_start=month_start, month_end=next_month - timedelta(days=1),
                              to_date=round(to_date, 6), forecast=round(expected, 6),
                              low=round(max(to_date, expected - spread), 6), high=round(expected + spread, 6),
                              daily_mean=round(mean, 6), daily_stdev=round(stdev, 6), days_left=days_left))
    return found
