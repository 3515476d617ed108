"""OTLP cumulative series state: the last value seen per series, to turn cumulative counters
into deltas (and to notice restarts).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
import os

from alembic import context, op
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
        role = context.config.attributes.get("app_role") or os.environ.get("FORTIUM_APP_DB_ROLE", "fortium_app")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON otlp_series TO {role}")
        op.execute("ALTER TABLE otlp_series ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE otlp_series FORCE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY tenant_isolation ON otlp_series "
                   "USING (organization_id = fortium_current_org() OR fortium_system_scope()) "
                   "WITH CHECK (organization_id = fortium_current_org() OR fortium_system_scope())")


def downgrade() -> None:
    op.drop_table("otlp_series")
