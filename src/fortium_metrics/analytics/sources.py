"""Where numbers can come from: the rollup cubes and the raw events, seen through one column
vocabulary (the cubes' column names), so every measure and dimension is one expression whatever
answers it. Reads go through the ORM classes, so the unit of work's tenant filter applies (and
row-level security on PostgreSQL)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import literal

from ..store.models import MetricEvent
from ..store.rollup_sql import projection_columns
from ..store.rollups import (HISTOGRAMS, MEASURE_COLUMNS, TEXT_DIMENSIONS, RollupDaily, RollupDailyLite, RollupDailyOrg,
                             RollupHourly, RollupPresence, RollupToolDurations, RollupToolDurationsLite,
                             RollupToolDurationsTeam)

EVENT_DIMENSIONS = frozenset({"team", "user", "project", "model", "tool", "command", "agent", "skill", "mcp_server",
                              "plugin", "query_source", "source", "language", "app_version", "labels"})


@dataclass(frozen=True)
class Source:
    name: str
    grain: str  # "day", "hour" or "raw": the finest time it can tell apart
    families: frozenset[str]
    dimensions: frozenset[str]  # non-time dimensions it can group and filter by
    model: type | None = None  # the ORM class (None: raw events)

    def columns(self, tz) -> dict:
        """The source's columns by their vocabulary names."""
        if self.model is None:
            return projection_columns(MetricEvent, tz)
        table = self.model.__table__
        found = {c.name: getattr(self.model, c.key) for c in table.columns}
        if self.model in HISTOGRAMS:
            found["kind"] = literal("tool_execution")  # a histogram of tool executions only
        return found

    def time_column(self, columns: dict):
        return {"raw": MetricEvent.occurred_at, "hour": columns.get("bucket"), "day": columns.get("day")}[self.grain]


_ALL = EVENT_DIMENSIONS | {"session"}
_SUMS = frozenset({"sum", "users", "sessions"})
HOURLY = Source("rollup_hourly", "hour", _SUMS, _ALL, RollupHourly)
RAW = Source("metric_events", "raw", _SUMS | {"percentile"}, _ALL)
# Smallest first: the planner takes the first one that can answer.
CANDIDATES = (
    Source("rollup_presence", "day", frozenset({"users", "sessions"}),
           frozenset({"user", "session", "team", "project", "source"}), RollupPresence),
    Source("rollup_tool_durations_lite", "day", frozenset({"percentile"}), frozenset({"tool", "mcp_server"}),
           RollupToolDurationsLite),
    Source("rollup_tool_durations_team", "day", frozenset({"percentile"}), frozenset({"team", "tool", "mcp_server"}),
           RollupToolDurationsTeam),
    Source("rollup_tool_durations", "day", frozenset({"percentile"}),
           frozenset({"user", "team", "project", "source", "tool", "mcp_server"}), RollupToolDurations),
    Source("rollup_daily_lite", "day", frozenset({"sum"}),
           frozenset({"model", "tool", "command", "agent", "skill", "mcp_server", "source"}), RollupDailyLite),
    Source("rollup_daily_org", "day", frozenset({"sum"}), EVENT_DIMENSIONS - {"user"}, RollupDailyOrg),
    Source("rollup_daily", "day", frozenset({"sum", "users"}), EVENT_DIMENSIONS, RollupDaily),
    HOURLY,
)
# Columns every cube with sums has; a histogram has `n` and `hb`.
SUM_COLUMNS = tuple(MEASURE_COLUMNS)
TEXT_COLUMNS = tuple(TEXT_DIMENSIONS)
