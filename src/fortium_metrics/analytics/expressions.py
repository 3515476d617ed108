"""Dimension and measure expressions over a source's columns (sources.py), and the SQL functions
they need that differ between the databases (weeks, months, labels)."""
from __future__ import annotations

import re

from sqlalchemy import Date, String, and_, case, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from ..errors import Invalid
from .catalogue import Measure, Sum

LABEL_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
LABEL_PREFIX = "label:"


class WeekStart(FunctionElement):
    type = Date()
    inherit_cache = True


class MonthStart(FunctionElement):
    type = Date()
    inherit_cache = True


class LabelValue(FunctionElement):
    """The value of one key of a `labels` column (canonical JSON text, '' for none), or ''."""

    type = String()
    inherit_cache = True


@compiles(WeekStart, "postgresql")
def _pg_week(element, compiler, **kw):
    return f"CAST(date_trunc('week', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(MonthStart, "postgresql")
def _pg_month(element, compiler, **kw):
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(WeekStart, "sqlite")
def _sqlite_week(element, compiler, **kw):
    # 'weekday 0' moves to the coming Sunday (or stays on one); six days before it is Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(MonthStart, "sqlite")
def _sqlite_month(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(LabelValue, "postgresql")
def _pg_label(element, compiler, **kw):
    labels, key = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CASE WHEN {labels} = '' THEN '' ELSE coalesce(CAST({labels} AS jsonb) ->> {key}, '') END)"


@compiles(LabelValue, "sqlite")
def _sqlite_label(element, compiler, **kw):
    labels, path = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CASE WHEN {labels} = '' THEN '' ELSE coalesce(json_extract({labels}, {path}), '') END)"


def label_argument(key: str, dialect: str) -> str:
    return key if dialect == "postgresql" else f'$."{key}"'


_TOOL_KINDS = ("tool_execution", "tool_decision")


def dimension(columns: dict, name: str, dialect: str):
    """The expression of dimension `name` (a catalogue dimension or `label:<key>`)."""
    if name.startswith(LABEL_PREFIX):
        return LabelValue(columns["labels"], label_argument(name[len(LABEL_PREFIX):], dialect))
    simple = {"hour": "bucket", "day": "day", "team": "team_id", "user": "user_id", "project": "project_id",
              "session": "session_id"}
    if name in simple:
        return columns[simple[name]]
    if name == "week":
        return WeekStart(columns["day"])
    if name == "month":
        return MonthStart(columns["day"])
    kind, label = columns["kind"], columns["name"]
    if name == "tool":
        return case((kind.in_(_TOOL_KINDS), label), else_="")
    if name == "command":
        return case((or_(kind == "command", and_(kind == "prompt", label != "")), label), else_="")
    return columns[name]


def _part(columns: dict, part: Sum):
    sign, column = part.sign, part.column
    conditions = []
    if part.kinds:
        conditions.append(columns["kind"].in_(part.kinds))
    if part.names == ("*",):
        conditions.append(columns["name"] != "")
    elif part.names:
        conditions.append(columns["name"].in_(part.names))
    value = columns[column] if not conditions else case((and_(*conditions), columns[column]), else_=0)
    return value if sign == 1 else -value


def measure_sum(columns: dict, measure: Measure):
    """Σ (or the maximum, for `combine="max"`) of a `sum` measure's parts over a source's rows."""
    total = None
    for part in measure.parts:
        value = _part(columns, part)
        total = value if total is None else total + value
    return combine(measure)(total)


def combine(measure: Measure):
    return func.max if measure.combine == "max" else func.sum


def check_label_key(key: str) -> str:
    if not LABEL_KEY.match(key):
        raise Invalid(f"group_by: {key!r} is not a label name (letters, digits, . _ -)", field="group_by")
    return key
