"""Dashboards: saved layouts per person, published as team or organisation defaults.

A tenant table like the others: the organisation first in the primary key, composite foreign
keys to its owner and team, row-level security on PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from fortium_metrics.store.migration_helpers import app_role, secure_tenant_table

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("widgets", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("published_to", sa.String(16)),
        sa.Column("team_id", sa.Uuid),
        sa.Column("published_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.ForeignKeyConstraint(["organization_id", "owner_id"], ["users.organization_id", "users.id"],
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id", "team_id"], ["teams.organization_id", "teams.id"]),
        sa.CheckConstraint("published_to IS NULL OR published_to IN ('team', 'organization')",
                           name="ck_dashboards_published_to"),
        sa.CheckConstraint("(published_to = 'team' AND team_id IS NOT NULL) "
                           "OR (coalesce(published_to, '') <> 'team' AND team_id IS NULL)", name="ck_dashboards_team"),
    )
    op.create_index("ix_dashboards_owner", "dashboards", ["organization_id", "owner_id"])
    op.create_index("ix_dashboards_published", "dashboards", ["organization_id", "published_to", "team_id"])
    if op.get_bind().dialect.name == "postgresql":
        secure_tenant_table(op, "dashboards", app_role(context))


def downgrade() -> None:
    op.drop_table("dashboards")  # its indexes and policy go with it
