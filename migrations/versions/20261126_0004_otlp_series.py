"""OTLP cumulative series state: the last value seen per series, to turn cumulative counters
into deltas (and to notice restarts).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, secure_tenant_table
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otlp_series",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("time_ns", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "series"),
    )
    if op.get_bind().dialect.name == "postgresql":
        secure_tenant_table(op, "otlp_series", app_role(context))


def downgrade() -> None:
    op.drop_table("otlp_series")
