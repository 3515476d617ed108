"""PostgreSQL only: the application role can no longer switch tenancy off for itself.

Before, every tenant policy read `organization_id = fortium_current_org() OR
fortium_system_scope()`, and `app.system_scope` is a setting any session may set: the
application role could `set_config('app.system_scope', 'on', true)` and read every organisation.
Now:
* the `tenant_isolation` policy has no other branch;
* a `system_scope` policy applies to the schema owner only (operator commands run with
  FORTIUM_ADMIN_DATABASE_URL);
* the few lookups a request or a job must make before an organisation is known are narrow
  `SECURITY DEFINER` functions owned by the owner, with a fixed search_path, that the
  application role may only execute: a key by its prefix, the accounts of an e-mail (their
  organisation and id, never a password hash), the organisation of a refresh token's hash or of
  a slug, and the organisations' rollup state for the rollups job.

On SQLite this revision does nothing: the unit of work's filter is the tenancy there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""
from alembic import context, op

from fortium_metrics.store.migration_helpers import (app_role, create_definer_function, definer_function as _definer,
                                                     tenant_policies)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LEGACY_POLICY = ("CREATE POLICY tenant_isolation ON {table} "
                 "USING ({column} = fortium_current_org() OR fortium_system_scope()) "
                 "WITH CHECK ({column} = fortium_current_org() OR fortium_system_scope())")



FUNCTIONS = {
    "fortium_api_key(text)": _definer(
        "fortium_api_key(key_prefix text)",
        "TABLE (organization_id uuid, user_id uuid, prefix text, secret_hash text, scopes jsonb, "
        "revoked_at timestamptz, last_used_at timestamptz, user_role text, user_active boolean)",
        "SELECT k.organization_id, k.user_id, k.prefix::text, k.secret_hash::text, k.scopes, k.revoked_at, "
        "k.last_used_at, u.role::text, u.active FROM api_keys k "
        "LEFT JOIN users u ON u.organization_id = k.organization_id AND u.id = k.user_id WHERE k.prefix = key_prefix"),
    "fortium_accounts_by_email(text)": _definer(
        "fortium_accounts_by_email(address text)",
        "TABLE (organization_id uuid, user_id uuid, active boolean, organization_slug text)",
        "SELECT u.organization_id, u.id, u.active, o.slug::text "
        "FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.email = address"),
    "fortium_refresh_token_organization(text)": _definer(
        "fortium_refresh_token_organization(hash text)", "SETOF uuid",
        "SELECT t.organization_id FROM refresh_tokens t WHERE t.token_hash = hash"),
    "fortium_organization_by_slug(text)": _definer(
        "fortium_organization_by_slug(org_slug text)", "SETOF uuid",
        "SELECT o.id FROM organizations o WHERE o.slug = org_slug"),
    "fortium_rollup_states()": _definer(
        "fortium_rollup_states()",
        "TABLE (organization_id uuid, timezone text, built_version integer, built_timezone text)",
        "SELECT o.id, coalesce(nullif(o.settings ->> 'timezone', ''), 'UTC'), s.version, s.timezone::text "
        "FROM organizations o LEFT JOIN rollup_state s ON s.organization_id = o.id"),
}


def _policy_tables() -> list[str]:
    return list(op.get_bind().exec_driver_sql(
        "SELECT tablename FROM pg_policies WHERE schemaname = current_schema() AND policyname = 'tenant_isolation' "
        "ORDER BY tablename").scalars())


def _column(table: str) -> str:
    return "id" if table == "organizations" else "organization_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role(context)
    for table in _policy_tables():
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"DROP POLICY IF EXISTS system_scope ON {table}")
        tenant_policies(op, table, _column(table))
    for signature, body in FUNCTIONS.items():
        create_definer_function(op, role, signature, body)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
    for table in _policy_tables():
        op.execute(f"DROP POLICY tenant_isolation ON {table}")
        op.execute(f"DROP POLICY IF EXISTS system_scope ON {table}")
        op.execute(LEGACY_POLICY.format(table=table, column=_column(table)))
