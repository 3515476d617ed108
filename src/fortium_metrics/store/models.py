"""The schema: one set of tables for SQLite and PostgreSQL.

Every tenant table carries `organization_id`, first in its primary key and unique constraints, so
the data can later be distributed by organisation. `TenantScoped` marks the classes the unit of
work filters (see store/uow.py). The migrations, not `create_all`, build the real database.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    PrimaryKeyConstraint,
    Boolean,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import JSONType, UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class TenantScoped:
    """Mixin: rows belong to exactly one organisation; the unit of work filters and stamps it."""

    # First column of every primary key (see the PrimaryKeyConstraint of each table).
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    data_retention_days: Mapped[int] = mapped_column(Integer, default=365)
    limits: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(TenantScoped, Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="developer")
    external_id: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "email", name="uq_users_org_email"),
        UniqueConstraint("organization_id", "external_id", name="uq_users_org_external_id"),
    )


class Team(TenantScoped, Base):
    __tablename__ = "teams"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # revision 0011: kept, with its history
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "slug", name="uq_teams_org_slug"),
    )


class TeamMembership(TenantScoped, Base):
    __tablename__ = "team_memberships"
    team_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Composite foreign keys: a membership can only join a team and a user of its own organisation.
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "team_id", "user_id"),
        ForeignKeyConstraint(["organization_id", "team_id"], ["teams.organization_id", "teams.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
    )


class Project(TenantScoped, Base):
    __tablename__ = "projects"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    repository_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "name", name="uq_projects_org_name"),
        ForeignKeyConstraint(["organization_id", "team_id"], ["teams.organization_id", "teams.id"]),
    )


class ApiKey(TenantScoped, Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list] = mapped_column(JSONType, default=list)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # `prefix` is unique across organisations on purpose: a key is looked up by its prefix before
    # its organisation is known (see auth.py).
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"]),
    )


class AuditLog(TenantScoped, Base):
    __tablename__ = "audit_log"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        Index("ix_audit_log_org_time", "organization_id", "occurred_at"),
    )


class AgentSession(TenantScoped, Base):
    """A Claude Code session. Not partitioned: far fewer rows than events, and it is updated
    (ended) by id, which a partition key would make awkward."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    project_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))
    attributes: Mapped[dict] = mapped_column(JSONType, default=dict)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        Index("ix_sessions_org_started", "organization_id", "started_at"),
    )


EVENT_KINDS = (
    "tool_execution", "agent_invocation", "command", "task", "productivity_metric",
    "token_usage", "code_change", "prompt", "api_request", "api_error", "other",
)


class MetricEvent(TenantScoped, Base):
    """Every time-series fact in one narrow table, discriminated by `kind`.

    One table keeps the ingestion path a single bulk insert (COPY) and dashboard queries a single
    range scan on (organization_id, kind, occurred_at); the common measures are real columns so
    aggregation never has to open the JSON. Range-partitioned by month on PostgreSQL.
    """

    __tablename__ = "metric_events"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    project_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    session_id: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(200))
    success: Mapped[bool | None] = mapped_column(Boolean)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    lines_added: Mapped[int | None] = mapped_column(Integer)
    lines_removed: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(100))
    # The 5-minute and 1-hour parts of cache_write_tokens (API requests); the rest of it was
    # reported without a split.
    cache_write_5m_tokens: Mapped[int | None] = mapped_column(BigInteger)
    cache_write_1h_tokens: Mapped[int | None] = mapped_column(BigInteger)
    # Analytics dimensions, taken from the event's fields and attributes once, at ingest (events.py
    # `dimensions`), so that rollups and raw reads group by the same plain columns.
    agent: Mapped[str | None] = mapped_column(String(200))
    skill: Mapped[str | None] = mapped_column(String(200))
    mcp_server: Mapped[str | None] = mapped_column(String(200))
    plugin: Mapped[str | None] = mapped_column(String(200))
    query_source: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(50))
    app_version: Mapped[str | None] = mapped_column(String(50))
    labels: Mapped[str | None] = mapped_column(String(500))  # the source's own labels, canonical JSON text
    attributes: Mapped[dict] = mapped_column(JSONType, default=dict)
    __table_args__ = (
        # The partition key must be in the primary key on PostgreSQL.
        PrimaryKeyConstraint("organization_id", "occurred_at", "id"),
        Index("ix_metric_events_org_kind_time", "organization_id", "kind", "occurred_at"),
        Index("ix_metric_events_org_session", "organization_id", "session_id", "occurred_at"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )


class EventKey(TenantScoped, Base):
    """The dedup index: one row per (organisation, dedup key).

    PostgreSQL cannot enforce a unique constraint on a partitioned table unless it contains the
    partition key, and the same fact may reach us from two sources with slightly different
    timestamps (OTLP vs transcript), so uniqueness lives here, not on metric_events."""

    __tablename__ = "event_keys"
    dedup_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (PrimaryKeyConstraint("organization_id", "dedup_key"),)


class MigrationStatus(TenantScoped, Base):
    """One row per imported source file: what was read and stored, and whether it finished, so an
    interrupted import resumes where it stopped and a repeated one skips finished files."""

    __tablename__ = "migration_status"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    importer: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(1000))
    fingerprint: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="running")
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "importer", "source", name="uq_migration_status_source"),
    )


class LocalDataMapping(TenantScoped, Base):
    """Which central user a laptop-local identity (a $USER, a profile e-mail or id) became."""

    __tablename__ = "local_data_mapping"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    importer: Mapped[str] = mapped_column(String(32))
    local_identity: Mapped[str] = mapped_column(String(400))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "importer", "local_identity", name="uq_local_data_mapping_identity"),
        ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
    )


class OtlpSeries(TenantScoped, Base):
    """Last value of a cumulative OTLP series (see otlp/service.py)."""

    __tablename__ = "otlp_series"
    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    start_ns: Mapped[int] = mapped_column(BigInteger)
    time_ns: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)
    __table_args__ = (PrimaryKeyConstraint("organization_id", "series"),)


class RefreshToken(TenantScoped, Base):
    """A refresh token (only its SHA-256 is stored). Tokens rotate: each use marks it used and
    issues the next in the same family; presenting a used one again revokes the whole family."""

    __tablename__ = "refresh_tokens"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
    )


class SsoConfig(TenantScoped, Base):
    """One OpenID Connect provider per organisation."""

    __tablename__ = "sso_configs"
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[str] = mapped_column(String(255), default="openid email profile")
    jit_provisioning: Mapped[bool] = mapped_column(Boolean, default=True)
    default_role: Mapped[str] = mapped_column(String(16), default="developer")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (PrimaryKeyConstraint("organization_id"),)


TENANT_TABLES = [
    cls.__tablename__ for cls in (User, Team, TeamMembership, Project, ApiKey, AuditLog, AgentSession, MetricEvent,
                                  EventKey, MigrationStatus, LocalDataMapping, OtlpSeries,
                                  RefreshToken, SsoConfig)
]
PARTITIONED_TABLES = ["metric_events"]

# The analytics rollups (store/rollups.py) are tables of this schema too, and tenant tables: that
# module is imported with this one (store/__init__.py), so Base.metadata always holds them.
