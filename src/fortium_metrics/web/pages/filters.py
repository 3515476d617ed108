"""The filter bar's state, read from the URL query: what a page shows is bookmarkable.

`team`, `user`, `project`, `model` (each repeatable), `range` (7d, 30d, 90d or custom with
`start` and `end` dates, inclusive), `granularity` (hour, day, week, month). A bad value never
breaks a page: it is replaced by the default and a notice names the field and why. Days are the
organisation's local days (its time zone setting), as the analytics service counts them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request

from ...analytics.calendar import day_start, local_date
from ...store.rollup_writer import timezone_of
from ...store.uow import UnitOfWork

PRESETS = {"7d": 7, "30d": 30, "90d": 90}
RANGE_LABELS = {"7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days", "custom": "Custom range"}
DEFAULT_RANGE = "30d"
GRANULARITIES = ("hour", "day", "week", "month")
DEFAULT_GRANULARITY = "day"
DIMENSIONS = ("team", "user", "project", "model")
MAX_DAYS = 366
MAX_VALUES = 20  # per dimension: a URL is not a bulk export


@dataclass
class FilterState:
    range: str
    start: date  # first day shown
    end: date  # last day shown (inclusive)
    granularity: str
    chosen: dict[str, list[str]] = field(default_factory=dict)  # dimension -> values
    notices: list[str] = field(default_factory=list)
    tz: str = "UTC"  # the organisation's time zone: whose midnights the days run between

    def query_items(self) -> list[tuple[str, str]]:
        items = [(name, value) for name in DIMENSIONS for value in self.chosen.get(name, [])]
        items.append(("range", self.range))
        if self.range == "custom":
            items += [("start", self.start.isoformat()), ("end", self.end.isoformat())]
        items.append(("granularity", self.granularity))
        return items

    def query(self) -> str:
        """`?…` carrying this state (navigation links keep the filter)."""
        return "?" + urlencode(self.query_items())

    def first(self, dimension: str) -> str:
        values = self.chosen.get(dimension) or [""]
        return values[0]

    @property
    def label(self) -> str:
        if self.range == "custom":
            return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"
        return RANGE_LABELS[self.range]

    def window(self) -> tuple[datetime, datetime]:
        """[start, end) as instants: local midnights, so the analytics service reads whole days."""
        return day_start(self.start, self.tz), day_start(self.end + timedelta(days=1), self.tz)

    def client_context(self) -> dict:
        start, end = self.window()
        return {"start": start.isoformat(), "end": end.isoformat(), "granularity": self.granularity,
                "filters": {name: values for name, values in self.chosen.items() if values}}


def _values(params: QueryParams, name: str, notices: list[str]) -> list[str]:
    values = list(dict.fromkeys(v.strip() for v in params.getlist(name) if v.strip()))
    if len(values) > MAX_VALUES:
        notices.append(f"{name}: at most {MAX_VALUES} values; the first {MAX_VALUES} are used")
    return [v[:200] for v in values[:MAX_VALUES]]


def _day(text: str | None, name: str, notices: list[str]) -> date | None:
    if not text:
        notices.append(f"{name}: choose a date for the custom range")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        notices.append(f"{name}: {text[:40]!r} is not a date (YYYY-MM-DD)")
        return None


def _custom(params: QueryParams, notices: list[str]) -> tuple[date, date] | None:
    start, end = _day(params.get("start"), "start", notices), _day(params.get("end"), "end", notices)
    if start is None or end is None:
        return None
    if start > end:
        notices.append("start: must be on or before end")
        return None
    if (end - start).days + 1 > MAX_DAYS:
        notices.append(f"end: a range is at most {MAX_DAYS} days")
        return None
    return start, end


async def read_filters(request: Request, uow: UnitOfWork) -> FilterState:
    """The filter state of a page request, in the organisation's time zone."""
    return parse_filters(request.query_params, await timezone_of(uow))


def parse_filters(params: QueryParams, tz: str = "UTC", today: date | None = None) -> FilterState:
    today = today or local_date(datetime.now(timezone.utc), tz)
    notices: list[str] = []
    chosen = {name: _values(params, name, notices) for name in DIMENSIONS}
    granularity = params.get("granularity") or DEFAULT_GRANULARITY
    if granularity not in GRANULARITIES:
        notices.append(f"granularity: {granularity[:40]!r} is not one of {', '.join(GRANULARITIES)}; showing by day")
        granularity = DEFAULT_GRANULARITY
    preset = params.get("range") or DEFAULT_RANGE
    if preset == "custom":
        days = _custom(params, notices)
        if days is not None:
            return FilterState("custom", days[0], days[1], granularity, chosen, notices, tz)
        notices.append(f"range: showing the {RANGE_LABELS[DEFAULT_RANGE].lower()} instead")
        preset = DEFAULT_RANGE
    if preset not in PRESETS:
        notices.append(f"range: {preset[:40]!r} is not one of {', '.join([*PRESETS, 'custom'])}; "
                       f"showing the {RANGE_LABELS[DEFAULT_RANGE].lower()}")
        preset = DEFAULT_RANGE
    return FilterState(preset, today - timedelta(days=PRESETS[preset] - 1), today, granularity, chosen, notices, tz)
