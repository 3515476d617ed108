"""Invitations by e-mail (a one-time sign-up link, only its hash stored) and archived teams.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, create_definer_function, definer_function, secure_tenant_table

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("organization_id", sa.Uuid, sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("accepted_at", TS),
        sa.Column("revoked_at", TS),
        sa.PrimaryKeyConstraint("organization_id", "id"),
    )
    op.create_index("ix_invitations_email", "invitations", ["organization_id", "email"])
    op.add_column("teams", sa.Column("archived_at", TS))
    if op.get_bind().dialect.name == "postgresql":
        secure_tenant_table(op, "invitations", app_role(context))
        # An invitation link is opened before anyone is signed in: its organisation comes from the
        # token's hash, through the owner's narrow function (the app role cannot look across).
        create_definer_function(op, app_role(context), "fortium_invitation_organization(text)", definer_function(
            "fortium_invitation_organization(hash text)", "SETOF uuid",
            "SELECT i.organization_id FROM invitations i WHERE i.token_hash = hash"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION fortium_invitation_organization(text)")
    op.drop_column("teams", "archived_at")  # SQLite >= 3.35 drops a column in place
    op.drop_table("invitations")  # its index and policy go with it
