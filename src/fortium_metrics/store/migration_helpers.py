"""Helpers the Alembic revisions share: the application role and a tenant table's RLS set-up.
Kept stable on purpose — released revisions call them — and free of any model import."""
from __future__ import annotations

import os

POLICY = ("CREATE POLICY tenant_isolation ON {table} "
          "USING ({column} = fortium_current_org() OR fortium_system_scope()) "
          "WITH CHECK ({column} = fortium_current_org() OR fortium_system_scope())")


def app_role(context) -> str:
    """The service's database role: the CLI passes it in; plain `alembic` reads the environment."""
    role = context.config.attributes.get("app_role") or os.environ.get("FORTIUM_APP_DB_ROLE", "fortium_app")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"FORTIUM_APP_DB_ROLE: not a plain role name: {role!r}")
    return role


def secure_tenant_table(op, table: str, role: str, rights: str = "SELECT, INSERT, UPDATE, DELETE",
                        column: str = "organization_id") -> None:
    """Grant the role its rights, then ENABLE and FORCE row-level security with the tenant policy."""
    op.execute(f"GRANT {rights} ON {table} TO {role}")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(POLICY.format(table=table, column=column))
