"""Helpers the Alembic revisions share: the application role and a tenant table's RLS set-up.
Kept stable on purpose — released revisions call them — and free of any model import.

Two policies per tenant table (revision 0010):
* `tenant_isolation`, for everyone: the row's organisation is the one bound to the transaction.
  No other branch: the application role cannot widen what it sees, whatever it sets.
* `system_scope`, for the schema owner only (the role running the migration): rows of every
  organisation when `app.system_scope` is on. The owner's connection is for operator commands
  (FORTIUM_ADMIN_DATABASE_URL), and the narrow SECURITY DEFINER lookups of revision 0010 run as
  the owner with that setting on for their one statement.
"""
from __future__ import annotations

import os

POLICY = ("CREATE POLICY tenant_isolation ON {table} "
          "USING ({column} = fortium_current_org()) WITH CHECK ({column} = fortium_current_org())")
SYSTEM_POLICY = ("CREATE POLICY system_scope ON {table} TO CURRENT_USER "
                 "USING (fortium_system_scope()) WITH CHECK (fortium_system_scope())")


def app_role(context) -> str:
    """The service's database role: the CLI passes it in; plain `alembic` reads the environment."""
    role = context.config.attributes.get("app_role") or os.environ.get("FORTIUM_APP_DB_ROLE", "fortium_app")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"FORTIUM_APP_DB_ROLE: not a plain role name: {role!r}")
    return role


def tenant_policies(op, table: str, column: str = "organization_id") -> None:
    op.execute(POLICY.format(table=table, column=column))
    op.execute(SYSTEM_POLICY.format(table=table))


def secure_tenant_table(op, table: str, role: str, rights: str = "SELECT, INSERT, UPDATE, DELETE",
                        column: str = "organization_id") -> None:
    """Grant the role its rights, then ENABLE and FORCE row-level security with the tenant policies."""
    op.execute(f"GRANT {rights} ON {table} TO {role}")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    tenant_policies(op, table, column)
