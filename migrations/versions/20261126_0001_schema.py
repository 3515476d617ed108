"""The schema: organisations, people, keys, audit log, sessions and the time series.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _org() -> sa.Column:
    return sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("data_retention_days", sa.Integer, nullable=False),
        sa.Column("limits", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "users",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "email", name="uq_users_org_email"),
        sa.UniqueConstraint("organization_id", "external_id", name="uq_users_org_external_id"),
        sa.CheckConstraint("role IN ('admin', 'manager', 'developer')", name="ck_users_role"),
    )
    op.create_table(
        "teams",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "slug", name="uq_teams_org_slug"),
    )
    op.create_table(
        "team_memberships",
        _org(),
        sa.Column("team_id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "team_id", "user_id"),
        sa.ForeignKeyConstraint(["organization_id", "team_id"], ["teams.organization_id", "teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
        sa.CheckConstraint("role IN ('lead', 'member')", name="ck_team_memberships_role"),
    )
    op.create_table(
        "projects",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("team_id", sa.Uuid),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("repository_url", sa.String(500)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "name", name="uq_projects_org_name"),
        sa.ForeignKeyConstraint(["organization_id", "team_id"], ["teams.organization_id", "teams.id"]),
    )
    op.create_table(
        "api_keys",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS),
        sa.Column("revoked_at", TS),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"]),
    )
    op.create_table(
        "audit_log",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.create_index("ix_audit_log_org_time", "audit_log", ["organization_id", "occurred_at"])
    op.create_table(
        "sessions",
        _org(),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.Uuid),
        sa.Column("team_id", sa.Uuid),
        sa.Column("project_id", sa.Uuid),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.create_index("ix_sessions_org_started", "sessions", ["organization_id", "started_at"])
    # No foreign keys on the time series: ids are resolved inside the caller's organisation by the
    # ingestion service, and per-row FK checks would halve bulk-load speed.
    op.create_table(
        "metric_events",
        sa.Column("organization_id", sa.Uuid, nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("user_id", sa.Uuid),
        sa.Column("team_id", sa.Uuid),
        sa.Column("project_id", sa.Uuid),
        sa.Column("session_id", sa.String(128)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("success", sa.Boolean),
        sa.Column("duration_ms", sa.Float),
        sa.Column("value", sa.Float),
        sa.Column("input_tokens", sa.BigInteger),
        sa.Column("output_tokens", sa.BigInteger),
        sa.Column("cache_read_tokens", sa.BigInteger),
        sa.Column("cache_write_tokens", sa.BigInteger),
        sa.Column("cost_usd", sa.Float),
        sa.Column("lines_added", sa.Integer),
        sa.Column("lines_removed", sa.Integer),
        sa.Column("model", sa.String(100)),
        sa.Column("attributes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "occurred_at", "id"),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    op.create_index("ix_metric_events_org_kind_time", "metric_events", ["organization_id", "kind", "occurred_at"])
    if op.get_bind().dialect.name == "postgresql":
        # The catch-all partition: a row of any date is stored, never rejected.
        op.execute("CREATE TABLE metric_events_default PARTITION OF metric_events DEFAULT")
    op.create_table(
        "event_keys",
        sa.Column("organization_id", sa.Uuid, nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "dedup_key"),
    )


def downgrade() -> None:
    for table in ("event_keys", "metric_events", "sessions", "audit_log", "api_keys", "projects",
                  "team_memberships", "teams", "users", "organizations"):
        op.drop_table(table)
