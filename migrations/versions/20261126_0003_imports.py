"""Import bookkeeping: per-file migration status (for resuming) and local-to-central identities.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, secure_tenant_table
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
TABLES = ("migration_status", "local_data_mapping")


def _org() -> sa.Column:
    return sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "migration_status",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("importer", sa.String(32), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("records_read", sa.Integer, nullable=False),
        sa.Column("imported", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "importer", "source", name="uq_migration_status_source"),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_migration_status_status"),
    )
    op.create_table(
        "local_data_mapping",
        _org(),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("importer", sa.String(32), nullable=False),
        sa.Column("local_identity", sa.String(400), nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.UniqueConstraint("organization_id", "importer", "local_identity", name="uq_local_data_mapping_identity"),
        sa.ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            secure_tenant_table(op, table, app_role(context))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
