"""Rollup tables ("cubes") of metric_events for analytics: the same sums at coarser grains.

Every cube holds, per combination of its key columns, the additive inputs of every measure
(`MEASURE_COLUMNS`: event counts, outcomes, duration sums, tokens, cost, lines, values), or for
the duration histograms a count per logarithmic bucket. The analytics query model (analytics/)
answers from the smallest cube that has every dimension a query needs, and from metric_events
itself for what no cube covers (window edges shorter than an hour, rare dimensions).

Key columns are never NULL, so that an upsert finds its row on both databases (NULLs are
distinct in unique constraints): an absent text dimension is '' and an absent id the nil UUID
(`NONE_ID`). Time: `bucket` is the UTC instant at which the event's hour began in the
organisation's time zone, `day` its local date (see store/rollup_sql.py); rollups are therefore
per time zone, and `RollupState` records which one they were built for.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, PrimaryKeyConstraint, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, TenantScoped
from .types import UTCDateTime, utcnow

NONE_ID = uuid.UUID(int=0)
VERSION = 1  # bump when a cube's definition changes: every organisation's rollups are then rebuilt

TEXT_DIMENSIONS = {"kind": 24, "name": 200, "model": 100, "source": 32, "agent": 200, "skill": 200, "mcp_server": 200,
                   "plugin": 200, "query_source": 100, "language": 50, "app_version": 50, "labels": 500}
ID_DIMENSIONS = ("user_id", "team_id", "project_id")
MEASURE_COLUMNS = {
    "n": BigInteger, "n_ok": BigInteger, "n_fail": BigInteger, "dur_n": BigInteger, "dur_sum": Float, "dur_max": Float,
    "input_tokens": BigInteger, "output_tokens": BigInteger, "cache_read_tokens": BigInteger,
    "cache_write_tokens": BigInteger, "cache_write_5m_tokens": BigInteger, "cache_write_1h_tokens": BigInteger,
    "cost_usd": Float, "lines_added": BigInteger, "lines_removed": BigInteger, "value_sum": Float,
}
MAX_COLUMNS = frozenset({"dur_max"})  # combined by max; every other measure column by addition


# Every dimension is part of its cube's primary key (the order is given by each table's constraint).
def _text(length: int):
    return mapped_column(String(length), primary_key=True, default="")


def _id():
    return mapped_column(Uuid, primary_key=True, default=NONE_ID)


def _day():
    return mapped_column(Date, primary_key=True)


class _Dimensions:
    """The dimension columns every event cube shares (besides time, user and session)."""

    team_id: Mapped[uuid.UUID] = _id()
    project_id: Mapped[uuid.UUID] = _id()
    kind: Mapped[str] = _text(24)
    name: Mapped[str] = _text(200)
    model: Mapped[str] = _text(100)
    source: Mapped[str] = _text(32)
    agent: Mapped[str] = _text(200)
    skill: Mapped[str] = _text(200)
    mcp_server: Mapped[str] = _text(200)
    plugin: Mapped[str] = _text(200)
    query_source: Mapped[str] = _text(100)
    language: Mapped[str] = _text(50)
    app_version: Mapped[str] = _text(50)
    labels: Mapped[str] = _text(500)


class _Measures:
    n: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    n_ok: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    n_fail: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    dur_n: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    dur_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    dur_max: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)  # combined by max, not sum
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    lines_added: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    lines_removed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    value_sum: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)


_EVENT_KEYS = ("team_id", "project_id", *TEXT_DIMENSIONS)


class RollupHourly(TenantScoped, _Dimensions, _Measures, Base):
    """Finest cube: per local hour, user and session. Answers everything but percentiles."""

    __tablename__ = "rollup_hourly"
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)  # the bucket's local date
    user_id: Mapped[uuid.UUID] = _id()
    session_id: Mapped[str] = _text(128)
    __table_args__ = (PrimaryKeyConstraint("organization_id", "bucket", "user_id", "session_id", *_EVENT_KEYS),)


class RollupDaily(TenantScoped, _Dimensions, _Measures, Base):
    """Per local day and user: the workhorse of dashboards (every dimension but hour and session)."""

    __tablename__ = "rollup_daily"
    day: Mapped[date] = _day()
    user_id: Mapped[uuid.UUID] = _id()
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", "user_id", *_EVENT_KEYS),
                      Index("ix_rollup_daily_user", "organization_id", "user_id", "day"),
                      Index("ix_rollup_daily_team", "organization_id", "team_id", "day"))


class RollupDailyOrg(TenantScoped, _Dimensions, _Measures, Base):
    """Per local day without people: organisation- and team-wide sums in a few thousand rows."""

    __tablename__ = "rollup_daily_org"
    day: Mapped[date] = _day()
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", *_EVENT_KEYS),)


class RollupDailyLite(TenantScoped, _Measures, Base):
    """Per local day, only what organisation-wide charts group by (kind, name, model, source,
    agent, skill, MCP server): the smallest cube, for the overview's tiles and charts."""

    __tablename__ = "rollup_daily_lite"
    day: Mapped[date] = _day()
    kind: Mapped[str] = _text(24)
    name: Mapped[str] = _text(200)
    model: Mapped[str] = _text(100)
    source: Mapped[str] = _text(32)
    agent: Mapped[str] = _text(200)
    skill: Mapped[str] = _text(200)
    mcp_server: Mapped[str] = _text(200)
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", "kind", "name", "model", "source", "agent", "skill",
                                           "mcp_server"),)


class RollupPresence(TenantScoped, Base):
    """Who was active in which session, per local day: exact distinct users and sessions."""

    __tablename__ = "rollup_presence"
    day: Mapped[date] = _day()
    user_id: Mapped[uuid.UUID] = _id()
    session_id: Mapped[str] = _text(128)
    team_id: Mapped[uuid.UUID] = _id()
    project_id: Mapped[uuid.UUID] = _id()
    source: Mapped[str] = _text(32)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", "user_id", "session_id", "team_id", "project_id",
                                           "source"),)


class _Histogram:
    """Tool execution durations: how many fell in each logarithmic bucket (store/rollup_sql.py)."""

    day: Mapped[date] = _day()
    name: Mapped[str] = _text(200)
    mcp_server: Mapped[str] = _text(200)
    hb: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


_HISTOGRAM_KEYS = ("name", "mcp_server", "hb")


class RollupToolDurations(TenantScoped, _Histogram, Base):
    __tablename__ = "rollup_tool_durations"
    user_id: Mapped[uuid.UUID] = _id()
    team_id: Mapped[uuid.UUID] = _id()
    project_id: Mapped[uuid.UUID] = _id()
    source: Mapped[str] = _text(32)
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", "user_id", "team_id", "project_id", "source",
                                           *_HISTOGRAM_KEYS),
                      Index("ix_rollup_tool_durations_user", "organization_id", "user_id", "day"))


class RollupToolDurationsTeam(TenantScoped, _Histogram, Base):
    """Without people, projects or sources: team-wide percentiles."""

    __tablename__ = "rollup_tool_durations_team"
    team_id: Mapped[uuid.UUID] = _id()
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", "team_id", *_HISTOGRAM_KEYS),)


class RollupToolDurationsLite(TenantScoped, _Histogram, Base):
    """Per tool only: organisation-wide percentiles."""

    __tablename__ = "rollup_tool_durations_lite"
    __table_args__ = (PrimaryKeyConstraint("organization_id", "day", *_HISTOGRAM_KEYS),)


class RollupState(TenantScoped, Base):
    """Which cube definition (`VERSION`) and time zone an organisation's rollups were built for.
    Rollups that do not match are not read (the raw events answer) until they are rebuilt."""

    __tablename__ = "rollup_state"
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (PrimaryKeyConstraint("organization_id"),)


# Finest first: each is folded from the same delta of new events (store/rollup_writer.py).
CUBES = (RollupHourly, RollupDaily, RollupDailyOrg, RollupDailyLite, RollupPresence, RollupToolDurations,
         RollupToolDurationsTeam, RollupToolDurationsLite)
HISTOGRAMS = (RollupToolDurations, RollupToolDurationsTeam, RollupToolDurationsLite)
ROLLUP_TABLES = [cls.__tablename__ for cls in (*CUBES, RollupState)]
