"""Retention: job leases (one runner of a job at a time across processes) and, on PostgreSQL, the
function that drops whole monthly partitions of metric_events once no organisation keeps them.

`job_leases` is not tenant data (no organisation, no row-level security); the application role
may read and update it. `fortium_drop_expired_partitions(cutoff, dry_run)` runs as the owner
(SECURITY DEFINER: partitions belong to the owner and are not granted to the application role). It
only ever drops a monthly partition that ends at or before `cutoff` — the caller passes the
earliest of all organisations' cut-offs — and deletes the dropped rows' dedup keys first. It
returns, per dropped (or, with dry_run, droppable) partition and organisation, the rows it held.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import context, op

from fortium_metrics.store.migration_helpers import app_role, create_definer_function, definer_function

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

DROP_FUNCTION = """
CREATE FUNCTION fortium_drop_expired_partitions(cutoff timestamptz, dry_run boolean DEFAULT true)
RETURNS TABLE (partition_name text, range_end timestamptz, organization_id uuid, events bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS
$fn$
DECLARE
  part text;
  hi timestamptz;
  previous text := coalesce(current_setting('app.system_scope', true), '');
BEGIN
  -- event_keys forces row-level security even on its owner: the owner's system_scope policy
  -- (revision 0010) lets this function see every organisation's keys, for this call only.
  PERFORM set_config('app.system_scope', 'on', true);
  FOR part, hi IN
    SELECT c.relname,
           (to_date(substring(c.relname FROM '_p([0-9]{4}_[0-9]{2})$'), 'YYYY_MM') + interval '1 month')::timestamp
             AT TIME ZONE 'UTC'
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'metric_events'::regclass AND c.relname ~ '^metric_events_p[0-9]{4}_[0-9]{2}$'
     ORDER BY c.relname
  LOOP
    CONTINUE WHEN hi > cutoff;
    RETURN QUERY EXECUTE format('SELECT %L::text, %L::timestamptz, organization_id, count(*) FROM %I '
                                'GROUP BY organization_id', part, hi, part);
    CONTINUE WHEN dry_run;
    EXECUTE format('DELETE FROM event_keys k USING %I e '
                   'WHERE k.organization_id = e.organization_id AND k.dedup_key = e.dedup_key', part);
    EXECUTE format('ALTER TABLE metric_events DETACH PARTITION %I', part);
    EXECUTE format('DROP TABLE %I', part);
  END LOOP;
  PERFORM set_config('app.system_scope', previous, true);
END
$fn$;
"""


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200)),
        sa.Column("expires_at", TS),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("runs", sa.Integer, nullable=False),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    role = app_role(context)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON job_leases TO {role}")
    op.execute(DROP_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION fortium_drop_expired_partitions(timestamptz, boolean) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION fortium_drop_expired_partitions(timestamptz, boolean) TO {role}")
    # The retention job reads every organisation's retention before it knows any organisation.
    create_definer_function(op, role, "fortium_retention_policies()", definer_function(
        "fortium_retention_policies()", "TABLE (organization_id uuid, slug text, data_retention_days integer)",
        "SELECT o.id, o.slug::text, o.data_retention_days FROM organizations o ORDER BY o.slug"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION fortium_retention_policies()")
        op.execute("DROP FUNCTION fortium_drop_expired_partitions(timestamptz, boolean)")
    op.drop_table("job_leases")
