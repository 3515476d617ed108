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


_DEFINER = "STABLE SECURITY DEFINER SET search_path = public, pg_catalog"


def definer_function(signature: str, returns: str, query: str) -> str:
    """A PL/pgSQL SECURITY DEFINER function answering `query` with the owner's system scope on
    for that statement only, then as it was (a function's own `SET app.system_scope` clause needs
    a superuser to create; the setting means nothing to the application role's policies anyway)."""
    return f"""
CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE plpgsql {_DEFINER} AS $fn$
#variable_conflict use_column
DECLARE
  previous text := coalesce(current_setting('app.system_scope', true), '');
BEGIN
  PERFORM set_config('app.system_scope', 'on', true);
  RETURN QUERY {query};
  PERFORM set_config('app.system_scope', previous, true);
END
$fn$"""


def create_definer_function(op, role: str, signature: str, body: str) -> None:
    """Create `body` (a definer_function) executable by the application role only."""
    op.execute(body)
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {role}")
