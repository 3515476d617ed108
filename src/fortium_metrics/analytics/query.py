"""The analytics query service: any measures, grouped by any dimensions, filtered, over a window,
with the previous period's totals — the one source of numbers for REST, MCP, the CLI, the
dashboard, alerts and reports.

`query(uow, AnalyticsQuery(...))` validates the question (every error names its parameter),
applies who-sees-what (scope.py), resolves team/user/project references inside the caller's
organisation, runs each family of measures from the best source (engine.py) and returns rows,
totals and the previous period's totals with readable dimension values.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ..errors import Invalid
from ..lookup import find_one
from ..store.models import Organization, Project, Team, User
from ..store.rollup_writer import is_current
from ..store.uow import UnitOfWork
from .calendar import hour_floor, local_date, local_days_window
from .catalogue import DEFAULT_LABELS, DIMENSIONS, MEASURES, PUBLIC_MEASURES, TIME_DIMENSIONS
from .engine import ADDITIVE, Spec, expand, family_of, fetch, finish, ratios, whole_periods
from .expressions import LABEL_PREFIX, check_label_key
from .scope import DEFAULT_MIN_GROUP, visibility
from .window import Window

MAX_ROWS = 10_000
MAX_DAYS = 3660
Granularity = Literal["hour", "day", "week", "month"]


class AnalyticsQuery(BaseModel):
    """A question to the analytics model (the REST parameters and the MCP tool's arguments)."""

    model_config = ConfigDict(extra="forbid")
    measures: list[str] = Field(min_length=1, max_length=60, description="Measure names (see the catalogue).")
    group_by: list[str] = Field(default_factory=list, max_length=4, description="Dimensions to group by.")
    filters: dict[str, list[str]] = Field(default_factory=dict, description="Dimension -> accepted values.")
    start: datetime | None = Field(None, description="Window start (ISO 8601; no offset means UTC).")
    end: datetime | None = Field(None, description="Window end, exclusive. Default: the end of today (local).")
    days: int = Field(30, ge=1, le=MAX_DAYS, description="Without start: the last N local days, today included.")
    granularity: Granularity | None = Field(None, description="Adds this time dimension to group_by.")
    compare: Literal["previous"] | None = Field(None, description="`previous`: also the totals of the period before.")
    order_by: list[str] = Field(default_factory=list, description="Measures or dimensions; `-name` for descending.")
    limit: int = Field(1000, ge=1, le=MAX_ROWS, description="At most this many rows.")


class QueryResult(BaseModel):
    start: datetime
    end: datetime
    timezone: str
    measures: list[str]
    group_by: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    previous: dict[str, Any] | None = None
    previous_start: datetime | None = None
    previous_end: datetime | None = None
    truncated: bool = Field(False, description="More rows matched than `limit`.")
    anonymised: bool = Field(False, description="Team aggregates read by a member: cells of fewer than "
                                                "min_group_size people are withheld (their measures null).")
    min_group_size: int | None = None
    sources: dict[str, str] = Field(default_factory=dict, description="What answered each family of measures.")


async def query(uow: UnitOfWork, q: AnalyticsQuery, *, use_rollups: bool = True) -> QueryResult:
    """`use_rollups=False` answers from the raw events only: the reference the rollups must
    equal (tests, benchmarks)."""
    org = await uow.session.scalar(select(Organization).where(Organization.id == uow.principal.organization_id))
    settings = (org.settings or {}) if org else {}
    tz = settings.get("timezone") or "UTC"
    measures = _measures(q.measures)
    group = _group(q, settings)
    filters = await _filters(uow, q.filters, settings)
    seen = await visibility(uow, filters, group)
    start, end = _window(q, tz)
    spec = Spec(group_by=group, filters=filters, tz=tz, restrict_users=seen.restrict_users,
                rollups_current=use_rollups and await is_current(uow, tz))
    wanted = list(measures)
    min_group = int(settings.get("min_group_size") or DEFAULT_MIN_GROUP) if seen.anonymised else None
    if seen.anonymised and "active_users" not in wanted:
        wanted.append("active_users")  # the size of each group, to withhold the small ones
    previous = (start - (end - start), start) if q.compare == "previous" else None
    totals, rows = await _compute(uow, spec, wanted, group, start, end, previous)
    if group:
        _fill_time(rows, group, start, end, tz, _empty(wanted))
    else:
        rows = {(): totals.get("cur", {})}
    result = [_row(group, key, values, tz) for key, values in rows.items()]
    result = _ordered(result, q.order_by, group, measures)
    labelled = await _labels(uow, group, result[:q.limit])
    total, before = totals.get("cur", _empty(wanted)), totals.get("prev", _empty(wanted)) if previous else None
    if min_group is not None:
        for values in [*labelled, total, *([before] if before else [])]:
            _withhold(values, measures, min_group)
    shown = [shown_name(g) for g in group]
    return QueryResult(
        start=start, end=end, timezone=tz, measures=measures, group_by=shown,
        rows=[{**{k: r[k] for k in shown}, **_shown(r, measures)} for r in labelled],
        totals=_shown(total, measures), previous=_shown(before, measures) if before is not None else None,
        previous_start=previous[0] if previous else None, previous_end=previous[1] if previous else None,
        truncated=len(result) > q.limit, anonymised=seen.anonymised, min_group_size=min_group, sources=spec.sources)


# -- validation -------------------------------------------------------------------------------
def _measures(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in PUBLIC_MEASURES]
    if unknown:
        raise Invalid(f"measures: unknown {', '.join(map(repr, unknown))}; known: {', '.join(PUBLIC_MEASURES)}",
                      field="measures")
    return list(dict.fromkeys(names))


def label_dimensions(settings: dict) -> list[str]:
    return list(settings.get("label_dimensions") or DEFAULT_LABELS)


def _dimension(name: str, settings: dict, field: str) -> str:
    if name in DIMENSIONS:
        return name
    if name in label_dimensions(settings):
        return LABEL_PREFIX + check_label_key(name)
    known = ", ".join([*DIMENSIONS, *label_dimensions(settings)])
    raise Invalid(f"{field}: unknown dimension {name!r}; known: {known}", field=field)


def _group(q: AnalyticsQuery, settings: dict) -> list[str]:
    names = list(q.group_by)
    if q.granularity and q.granularity not in names:
        names.insert(0, q.granularity)
    group = [_dimension(n, settings, "group_by") for n in dict.fromkeys(names)]
    if len([g for g in group if g in TIME_DIMENSIONS]) > 1:
        raise Invalid("group_by: at most one of hour, day, week, month", field="group_by")
    if len(group) > 4:
        raise Invalid("group_by: at most 4 dimensions", field="group_by")
    return group


_REFERENCES = {"team": (Team, Team.slug), "user": (User, User.email), "project": (Project, Project.name)}


async def _filters(uow: UnitOfWork, raw: dict[str, list[str]], settings: dict) -> dict[str, list]:
    filters: dict[str, list] = {}
    for name, values in raw.items():
        dimension = _dimension(name, settings, name)
        if dimension in TIME_DIMENSIONS:
            raise Invalid(f"{name}: time is chosen with start, end or days, not as a filter", field=name)
        values = [v.strip() for v in values if v and v.strip()]
        if not values:
            raise Invalid(f"{name}: give at least one value", field=name)
        if dimension in _REFERENCES:
            model, key = _REFERENCES[dimension]
            values = [(await find_one(uow, model, v.lower() if dimension == "user" else v, key, name)).id for v in values]
        filters[dimension] = values
    return filters


def _window(q: AnalyticsQuery, tz: str) -> tuple[datetime, datetime]:
    if q.start is None and q.end is None:
        return local_days_window(q.days, tz)
    window = Window.parse(q.start.isoformat() if q.start else None, q.end.isoformat() if q.end else None, q.days)
    if window.end - window.start > timedelta(days=MAX_DAYS):
        raise Invalid(f"start: a window is at most {MAX_DAYS} days", field="start")
    return window.start, window.end


# -- computing --------------------------------------------------------------------------------
async def _compute(uow: UnitOfWork, spec: Spec, names: list[str], group: list[str], start: datetime, end: datetime,
                   previous: tuple[datetime, datetime] | None) -> tuple[dict, dict]:
    """({"cur": values, "prev": values}: the totals, {dimension values: values}: the rows of the
    current period). Sums and histograms are fetched once, grouped, and their totals added up
    from the groups; distinct counts are fetched for the groups and for the whole periods."""
    measures = expand(names)
    periods = [("cur", start, end)] + ([("prev", *previous)] if previous else [])
    by_family: dict[str, list] = {}
    for measure in measures:
        if measure.family != "ratio":
            by_family.setdefault(family_of(measure), []).append(measure)
    totals: dict[str, dict] = {}
    rows: dict[tuple, dict] = {}
    for family, members in by_family.items():
        additive = family in ADDITIVE
        if group:
            grouped = await fetch(uow, spec, family, members, group, periods if additive else periods[:1])
            for key, partial in grouped.items():
                if key[0] == "cur":
                    rows.setdefault(key[1:], {}).update(finish(family, partial, members))
        if group and additive:
            whole = whole_periods(grouped, members)
        else:
            whole = await fetch(uow, spec, family, members, [], periods)
        for (period,), partial in whole.items():
            totals.setdefault(period, {}).update(finish(family, partial, members))
    for values in [*totals.values(), *rows.values()]:
        for measure in measures:
            values.setdefault(measure.name, None if measure.family == "percentile" else 0)
        ratios(values, measures)
    return totals, rows


def _time_keys(name: str, start: datetime, end: datetime, tz: str) -> list:
    """Every bucket of time dimension `name` the window touches, as the rollups key them."""
    if name == "hour":
        keys, at = [], hour_floor(start, tz)
        while at < end:
            keys.append(at)
            at += timedelta(hours=1)
        return keys
    first, last = local_date(start, tz), local_date(end - timedelta(microseconds=1), tz)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if name == "week":
        return sorted({d - timedelta(days=d.weekday()) for d in days})
    if name == "month":
        return sorted({d.replace(day=1) for d in days})
    return days


def _fill_time(rows: dict, group: list[str], start: datetime, end: datetime, tz: str, empty: dict) -> None:
    """A time series has every bucket of the window, zeros included, for each combination of
    the other dimensions that has any data (so a chart shows a quiet day, not a gap)."""
    times = [i for i, name in enumerate(group) if name in TIME_DIMENSIONS]
    if not times:
        return
    at = times[0]
    others = {key[:at] + key[at + 1:] for key in rows} or ({()} if len(group) == 1 else set())
    for bucket in _time_keys(group[at], start, end, tz):
        for rest in others:
            rows.setdefault(rest[:at] + (bucket,) + rest[at:], dict(empty))


def _empty(names: list[str]) -> dict:
    values = {}
    for measure in expand(names):
        values[measure.name] = None if measure.family in ("percentile", "ratio") else 0
    return values


def _row(group: list[str], key: tuple, values: dict, tz: str) -> dict:
    row = dict(values)
    for name, value in zip(group, key):
        row[shown_name(name)] = _dimension_value(name, value, tz)
    return row


def _dimension_value(name: str, value, tz: str):
    from ..store.rollup_sql import zone

    if name == "hour":
        return value.astimezone(zone(tz)).isoformat() if isinstance(value, datetime) else value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return None if value == uuid.UUID(int=0) else value
    return value or None


def shown_name(name: str) -> str:
    """A dimension's name in rows and parameters: an organisation label is its own key."""
    return name[len(LABEL_PREFIX):] if name.startswith(LABEL_PREFIX) else name


def _ordered(rows: list[dict], order_by: list[str], group: list[str], measures: list[str]) -> list[dict]:
    names = [shown_name(g) for g in group]
    keys = order_by or ([g for g in names if g in TIME_DIMENSIONS] or [f"-{measures[0]}"])
    for key in keys:
        if key.lstrip("-") not in names and key.lstrip("-") not in measures:
            raise Invalid(f"order_by: {key.lstrip('-')!r} is not among the measures or group_by", field="order_by")
    for key in reversed([*keys, *names]):  # stable sorts: the first key decides last
        name, descending = key.lstrip("-"), key.startswith("-")
        present = [r for r in rows if r.get(name) is not None]
        present.sort(key=lambda r: r[name], reverse=descending)
        rows = present + [r for r in rows if r.get(name) is None]  # unknown values last either way
    return rows


async def _labels(uow: UnitOfWork, group: list[str], rows: list[dict]) -> list[dict]:
    """Team slugs, user e-mails and project names instead of ids."""
    for name, (model, key) in _REFERENCES.items():
        if name not in group:
            continue
        ids = {r[name] for r in rows if isinstance(r.get(name), uuid.UUID)}
        found = dict((await uow.session.execute(select(model.id, key).where(model.id.in_(ids)))).all()) if ids else {}
        for row in rows:
            if isinstance(row.get(name), uuid.UUID):
                row[name] = found.get(row[name], str(row[name]))
    return rows


def _withhold(values: dict, measures: list[str], min_group: int) -> None:
    if (values.get("active_users") or 0) < min_group:
        for name in measures:
            values[name] = None
        values["withheld"] = True


def _shown(values: dict | None, measures: list[str]) -> dict:
    if values is None:
        return {}
    shown = {name: _rounded(name, values.get(name)) for name in measures}
    if values.get("withheld"):
        shown["withheld"] = True
    return shown


def _rounded(name: str, value):
    digits = MEASURES[name].digits
    if value is None:
        return None
    return int(value) if digits is None else round(float(value), digits)
