"""Running one validated query: per family of measures, the source that answers it (the smallest
cube that has every dimension needed, else the raw events), the window split into the grains
that source allows, one SQL statement over the union of the parts, and the rows merged back.

Sums add up across parts; distinct people and sessions are counted over the union of the
parts' ids (never added: a person active in two parts is one person); percentiles are read off
the summed histogram.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import String, bindparam, func, literal, select, union_all

from ..store.rollup_sql import bucket_value
from ..store.rollups import NONE_ID
from ..store.uow import UnitOfWork
from .calendar import Segment, split
from .catalogue import MEASURES, Measure
from .expressions import LABEL_PREFIX, combine, dimension, measure_sum
from .sources import CANDIDATES, HOURLY, RAW, Source

TZ = "fm_tz"


@dataclass
class Spec:
    """A query after validation and the permission rules: ids resolved, scope applied."""

    group_by: list[str]
    filters: dict[str, list]  # dimension -> values (ids for team, user, project)
    tz: str
    restrict_users: set[uuid.UUID] | None = None
    restrict_teams: set[uuid.UUID] | None = None
    rollups_current: bool = True
    sources: dict[str, str] = field(default_factory=dict)  # family -> what answered (reported back)

    def dimensions_needed(self, group: list[str]) -> set[str]:
        needed = {("labels" if d.startswith(LABEL_PREFIX) else d) for d in [*group, *self.filters]}
        needed -= {"hour", "day", "week", "month"}
        if self.restrict_users is not None:
            needed.add("user")
        if self.restrict_teams is not None:
            needed.add("team")
        return needed


def family_of(measure: Measure) -> str:
    return {"users": "distinct", "sessions": "distinct"}.get(measure.family, measure.family)


def _capabilities(measures: list[Measure]) -> set[str]:
    """What a source must offer for a family's measures (`users`, `sessions`, `sum`...)."""
    return {m.family for m in measures}


def choose(spec: Spec, measures: list[Measure], group: list[str]) -> Source:
    if not spec.rollups_current:
        return RAW
    wanted, dims, hourly = _capabilities(measures), spec.dimensions_needed(group), "hour" in group
    for source in CANDIDATES:
        if wanted <= source.families and dims <= source.dimensions and (not hourly or source.grain == "hour"):
            return source
    return RAW


def parts(source: Source, spec: Spec, measures: list[Measure], group: list[str], start: datetime,
          end: datetime) -> list[tuple[Source, Segment]]:
    """The window as (source, segment) pairs: whole days and hours from the cubes, the rest raw."""
    hourly_fits = _capabilities(measures) <= HOURLY.families and spec.dimensions_needed(group) <= HOURLY.dimensions
    found = []
    for segment in split(start, end, spec.tz, source.grain):
        if segment.grain == "day":
            found.append((source, segment))
        elif segment.grain == "hour":
            found.append((HOURLY if hourly_fits and spec.rollups_current else RAW, segment))
        else:
            found.append((RAW, segment))
    return found


def _conditions(source: Source, columns: dict, segment: Segment, spec: Spec, dialect: str) -> list:
    if segment.grain == "day":
        where = [columns["day"] >= segment.first_day, columns["day"] < segment.end_day]
    else:
        time = source.time_column(columns)
        where = [time >= segment.start, time < segment.end]
    for name, values in spec.filters.items():
        where.append(dimension(columns, name, dialect).in_(values))
    if spec.restrict_users is not None:
        where.append(columns["user_id"].in_(spec.restrict_users))
    if spec.restrict_teams is not None:
        where.append(columns["team_id"].in_(spec.restrict_teams))
    return where


def _inner(family: str, source: Source, segment: Segment, period: str, spec: Spec, measures: list[Measure],
           group: list[str], dialect: str):
    columns = source.columns(bindparam(TZ, type_=String))
    keys = [dimension(columns, name, dialect) for name in group]
    head = [literal(period, String).label("period"), *(key.label(f"d{i}") for i, key in enumerate(keys))]
    where = _conditions(source, columns, segment, spec, dialect)
    if family == "sum":
        return select(*head, *(measure_sum(columns, m).label(m.name) for m in measures)).where(*where).group_by(*keys)
    where += [columns["kind"] == "tool_execution", columns["hb"].is_not(None)]
    return select(*head, columns["hb"].label("hb"), func.sum(columns["n"]).label("n")).where(*where).group_by(*keys, columns["hb"])


_DISTINCT = {"active_users": ("user_id", NONE_ID), "sessions": ("session_id", "")}


def _ids(name: str, source: Source, segment: Segment, period: str, spec: Spec, group: list[str], dialect: str):
    """The distinct ids (people or sessions) of one part, with their period and dimension values."""
    columns = source.columns(bindparam(TZ, type_=String))
    column, none = _DISTINCT[name]
    keys = [dimension(columns, g, dialect).label(f"d{i}") for i, g in enumerate(group)]
    where = [*_conditions(source, columns, segment, spec, dialect), columns[column] != none]
    return select(literal(period, String).label("period"), *keys, columns[column].label("id")).where(*where).distinct()


def _count_distinct(name: str, pieces: list, group: list[str], spec: Spec, dialect: str):
    """(name, period, keys, how many distinct ids). Each part is deduplicated where it is read,
    one measure at a time, so the database hashes only the one id column; the parts of a period
    are deduplicated once more only when a period has several (an id can be in two of them).
    DISTINCT then count, which databases hash, rather than count(DISTINCT ...), which they sort."""
    selects = [_ids(name, source, segment, period, spec, group, dialect) for period, source, segment in pieces]
    union = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery()
    periods = [period for period, _source, _segment in pieces]
    ids = select(*union.c).distinct().subquery() if len(set(periods)) < len(periods) else union
    keys = [ids.c.period, *(ids.c[f"d{i}"] for i in range(len(group)))]
    return select(literal(name, String).label("m"), *keys, func.count()).group_by(*keys)


def _outer(family: str, union, group: list[str], measures: list[Measure]):
    keys = [union.c.period, *(union.c[f"d{i}"] for i in range(len(group)))]
    if family == "sum":
        return select(*keys, *(combine(m)(union.c[m.name]) for m in measures)).group_by(*keys)
    return select(*keys, union.c.hb, func.sum(union.c.n)).group_by(*keys, union.c.hb)


ADDITIVE = frozenset({"sum", "percentile"})  # partials that add up across groups (distinct counts do not)


async def fetch(uow: UnitOfWork, spec: Spec, family: str, measures: list[Measure], group: list[str],
                periods: list[tuple[str, datetime, datetime]]) -> dict[tuple, dict]:
    """{(period, *dimension values): partial} for one family of measures: the sums by measure
    name, the distinct counts by measure name, or the tool-duration histogram {bucket: count}
    (`finish` turns a partial into the measures' values)."""
    source = choose(spec, measures, group)
    spec.sources.setdefault(family, source.name)  # the rows' source (grouped reads come first)
    pieces = [(period, part_source, segment) for period, start, end in periods
              for part_source, segment in parts(source, spec, measures, group, start, end)]
    if family == "distinct":
        statement = union_all(*(_count_distinct(m.name, pieces, group, spec, uow.dialect) for m in measures))
    else:
        selects = [_inner(family, part_source, segment, period, spec, measures, group, uow.dialect)
                   for period, part_source, segment in pieces]
        statement = _outer(family, (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("parts"),
                           group, measures)
    rows = (await uow.session.execute(statement, {TZ: spec.tz})).all()
    return _collect(family, rows, measures)


def _collect(family: str, rows, measures: list[Measure]) -> dict[tuple, dict]:
    found: dict[tuple, dict] = {}
    if family == "sum":
        width = len(measures)
        for row in rows:
            found[tuple(row[:-width])] = {m.name: _number(value) for m, value in zip(measures, row[-width:])}
    elif family == "distinct":
        for name, *key, count in rows:
            found.setdefault(tuple(key), {m.name: 0 for m in measures})[name] = count
    else:
        for *key, hb, n in rows:
            found.setdefault(tuple(key), {})[hb] = int(n)
    return found


def finish(family: str, partial: dict, measures: list[Measure]) -> dict:
    """A partial's measure values (percentiles are read off the histogram)."""
    if family == "percentile":
        return {m.name: percentile(partial, m.percentile) for m in measures}
    return dict(partial)


def whole_periods(partials: dict[tuple, dict], measures: list[Measure]) -> dict[tuple, dict]:
    """The partials of whole periods, {(period,): partial}, from an additive family's grouped
    partials: every event is in exactly one group, so sums add up (maxima take the largest) and
    histograms add bucket by bucket."""
    maxima = {m.name for m in measures if m.combine == "max"}
    found: dict[tuple, dict] = {}
    for key, partial in partials.items():
        into = found.setdefault(key[:1], {})
        for name, value in partial.items():
            into[name] = value if name not in into else max(into[name], value) if name in maxima else into[name] + value
    return found


def _number(value) -> int | float:
    """PostgreSQL sums integers as numeric (Decimal): back to int; None (no rows) is 0."""
    if value is None:
        return 0
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def percentile(histogram: dict[int, int], p: float) -> float | None:
    """Nearest rank on the histogram: the value of the bucket holding the ceil(p·N)-th duration."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, math.ceil(p * total)), 0
    for hb in sorted(histogram):
        seen += histogram[hb]
        if seen >= rank:
            return bucket_value(hb)
    return None  # unreachable: seen ends at total >= rank


def expand(names: list[str]) -> list[Measure]:
    """The measures to compute: those asked for and every input of their ratios, once each."""
    found: dict[str, Measure] = {}

    def add(name: str) -> None:
        measure = MEASURES[name]
        for dependency in measure.inputs():
            add(dependency)
        found.setdefault(name, measure)

    for name in names:
        add(name)
    return list(found.values())


def ratios(values: dict, measures: list[Measure]) -> None:
    for measure in measures:
        if measure.family == "ratio":
            numerator, denominator = values.get(measure.ratio[0]), values.get(measure.ratio[1])
            if numerator is None or denominator is None:
                values[measure.name] = None
                continue
            denominator = denominator + sum(values.get(extra) or 0 for extra in measure.denominator_adds)
            values[measure.name] = numerator / denominator if denominator else None
