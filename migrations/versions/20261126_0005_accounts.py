"""Sign-in: rotating refresh tokens (with families for reuse detection) and per-organisation SSO.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, secure_tenant_table
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
TABLES = ("refresh_tokens", "sso_configs")


def upgrade() -> None:
    op.create_table(
        "refresh_tokens",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("family_id", sa.Uuid, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.Column("revoked_at", TS),
        sa.PrimaryKeyConstraint("organization_id", "id"),
        sa.ForeignKeyConstraint(["organization_id", "user_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["organization_id", "family_id"])
    op.create_table(
        "sso_configs",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret", sa.String(500), nullable=False),
        sa.Column("scopes", sa.String(255), nullable=False),
        sa.Column("jit_provisioning", sa.Boolean, nullable=False),
        sa.Column("default_role", sa.String(16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            secure_tenant_table(op, table, app_role(context))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
