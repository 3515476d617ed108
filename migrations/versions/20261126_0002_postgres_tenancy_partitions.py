"""PostgreSQL only: the application role, row-level security and monthly partitions.

The service connects as a dedicated non-owner role (default `fortium_app`, see
FORTIUM_APP_DB_ROLE) that these statements create and grant to. RLS is enabled and FORCED on every
tenant table, so even a table owner that is not a superuser is filtered. Partitions are created
by the owner and never granted to the application role, so it can only reach rows through the
parent table, whose policies apply.

On SQLite this revision does nothing: the unit of work applies the same filter there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, secure_tenant_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_TABLES = ("users", "teams", "team_memberships", "projects", "api_keys", "audit_log",
                 "sessions", "metric_events", "event_keys")
PARTITIONED = ("metric_events",)

FUNCTIONS = """
CREATE FUNCTION fortium_current_org() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('app.current_organization_id', true), '')::uuid $$;

CREATE FUNCTION fortium_system_scope() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('app.system_scope', true), '') = 'on' $$;

-- Creates the monthly partitions from the current month to `months_ahead` months ahead. Rows
-- already sitting in the default partition for a new month are moved into it first (PostgreSQL
-- refuses to attach a range the default partition holds rows for). Safe to run twice.
CREATE FUNCTION fortium_ensure_partitions(months_ahead integer DEFAULT 3) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS
$fn$
DECLARE
  parent text;
  month_start date;
  lo timestamptz;
  hi timestamptz;
  part text;
  created integer := 0;
BEGIN
  FOREACH parent IN ARRAY ARRAY['metric_events'] LOOP
    FOR i IN 0..months_ahead LOOP
      month_start := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
      part := format('%s_p%s', parent, to_char(month_start, 'YYYY_MM'));
      CONTINUE WHEN to_regclass(part) IS NOT NULL;
      lo := month_start::timestamp AT TIME ZONE 'UTC';
      hi := (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC';
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
      EXECUTE format('WITH moved AS (DELETE FROM %I WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
                     'INSERT INTO %I SELECT * FROM moved', parent || '_default', lo, hi, part);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
      created := created + 1;
    END LOOP;
  END LOOP;
  RETURN created;
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role(context)
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS;
        END IF; END $$""")
    op.execute(FUNCTIONS)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT ON alembic_version TO {role}")
    op.execute(f"GRANT EXECUTE ON FUNCTION fortium_ensure_partitions(integer) TO {role}")
    secure_tenant_table(op, "organizations", role, column="id")
    for table in TENANT_TABLES:
        # The audit log is append-only for the application.
        secure_tenant_table(op, table, role, "SELECT, INSERT" if table == "audit_log" else "SELECT, INSERT, UPDATE, DELETE")
    op.execute("SELECT fortium_ensure_partitions(3)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role(context)
    for table in ("organizations", *TENANT_TABLES):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"DROP POLICY IF EXISTS system_scope ON {table}")  # revision 0010's helper adds it
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {role}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
    # Monthly partitions go, their rows are kept: detached, copied back (into the default
    # partition), dropped. The role itself stays: it is cluster-wide and may serve other databases.
    for parent in PARTITIONED:
        op.execute(f"""DO $$ DECLARE part text; BEGIN
            FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = '{parent}'::regclass AND c.relname <> '{parent}_default' LOOP
                EXECUTE format('ALTER TABLE {parent} DETACH PARTITION %I', part);
                EXECUTE format('INSERT INTO {parent} SELECT * FROM %I', part);
                EXECUTE format('DROP TABLE %I', part);
            END LOOP; END $$""")
    op.execute("DROP FUNCTION fortium_ensure_partitions(integer)")
    op.execute("DROP FUNCTION fortium_system_scope()")
    op.execute("DROP FUNCTION fortium_current_org()")
