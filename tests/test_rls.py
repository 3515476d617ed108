"""PostgreSQL row-level security, proven with raw SQL as the application role (the application
filter is not involved here at all)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import psycopg
import pytest

from conftest import APP_ROLE
from fortium_metrics import orgs, users
from fortium_metrics.principal import Principal
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.models import MetricEvent
from fortium_metrics.store.uow import Store

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
async def pg(pg_migrated):
    owner, app = pg_migrated
    store = Store(create_engine(app), create_engine(owner))
    async with store.unit_of_work(Principal.system("test")) as uow:
        a = await orgs.create_organization(uow, "A", f"a-{uuid.uuid4().hex[:8]}")
        b = await orgs.create_organization(uow, "B", f"b-{uuid.uuid4().hex[:8]}")
    async with store.unit_of_work(Principal.org_admin(a.id)) as uow:
        await users.create_user(uow, "alice@a.test", role="admin")
        uow.session.add(MetricEvent(kind="task", source="t", dedup_key="k1", attributes={},
                                    occurred_at=datetime.now(timezone.utc)))
    await store.dispose()
    return app, owner, a.id, b.id


def _bound(conn: psycopg.Connection, org) -> None:
    conn.execute("SELECT set_config('app.current_organization_id', %s, true)", (str(org),))


async def test_raw_sql_bound_to_org_b_returns_no_org_a_rows(pg):
    app, _owner, org_a, org_b = pg
    with psycopg.connect(app) as conn:
        _bound(conn, org_b)
        for table in ("users", "metric_events", "organizations", "audit_log"):
            column = "id" if table == "organizations" else "organization_id"
            rows = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (org_a,)).fetchone()
            assert rows[0] == 0, table
    with psycopg.connect(app) as conn:
        _bound(conn, org_a)
        assert conn.execute("SELECT count(*) FROM metric_events").fetchone()[0] == 1


async def test_app_role_reads_nothing_without_an_organisation_bound(pg):
    app, *_ = pg
    with psycopg.connect(app) as conn:
        for table in ("users", "metric_events", "organizations", "api_keys", "teams"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


async def test_app_role_cannot_insert_into_another_organisation(pg):
    app, _owner, org_a, org_b = pg
    with psycopg.connect(app) as conn:
        _bound(conn, org_b)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO teams (organization_id, id, name, slug, description, created_at) "
                "VALUES (%s, %s, 'x', 'x', '', now())", (org_a, uuid.uuid4()))


async def test_app_role_is_not_superuser_and_cannot_bypass_rls(pg):
    app, *_ = pg
    with psycopg.connect(app) as conn:
        superuser, bypass = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        assert (superuser, bypass) == (False, False)
        forced = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = ANY(%s) AND relrowsecurity AND relforcerowsecurity",
            (["users", "metric_events", "organizations", "event_keys", "sessions", "migration_status", "local_data_mapping", "otlp_series", "refresh_tokens", "sso_configs"],)).fetchone()[0]
        assert forced == 10


async def test_app_role_cannot_reach_partitions_directly(pg):
    app, *_ = pg
    with psycopg.connect(app) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM metric_events_default")


async def test_audit_log_is_append_only_for_the_app_role(pg):
    app, _owner, org_a, _ = pg
    with psycopg.connect(app) as conn:
        _bound(conn, org_a)
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] >= 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_log SET action = 'forged'")
    with psycopg.connect(app) as conn:
        _bound(conn, org_a)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_log")


# -- no way round the tenancy for the application role (issue 12, item 6) ------------------------
TENANT_TABLES = ("organizations", "users", "api_keys", "metric_events", "audit_log", "teams", "sessions",
                 "refresh_tokens", "dashboards", "rollup_state")


async def test_the_system_scope_setting_widens_nothing_for_the_app_role(pg):
    app, _owner, org_a, org_b = pg
    with psycopg.connect(app) as conn:
        conn.execute("SELECT set_config('app.system_scope', 'on', true)")
        for table in TENANT_TABLES:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    with psycopg.connect(app) as conn:
        _bound(conn, org_b)
        conn.execute("SELECT set_config('app.system_scope', 'on', false)")  # for the whole session, too
        column = {"organizations": "id"}
        for table in TENANT_TABLES:
            found = conn.execute(f"SELECT count(*) FROM {table} WHERE {column.get(table, 'organization_id')} = %s",
                                 (org_a,)).fetchone()[0]
            assert found == 0, table
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO teams (organization_id, id, name, slug, description, created_at) "
                         "VALUES (%s, %s, 'x', 'x', '', now())", (org_a, uuid.uuid4()))


async def test_no_policy_the_app_role_is_under_has_a_bypass(pg):
    app, owner, *_ = pg
    with psycopg.connect(owner) as conn:
        rows = conn.execute(
            "SELECT tablename, policyname, qual, with_check FROM pg_policies "
            "WHERE schemaname = 'public' AND (%s = ANY(roles) OR 'public' = ANY(roles))", (APP_ROLE,)).fetchall()
        secured = {r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relkind IN ('r', 'p') "
            "AND relnamespace = 'public'::regnamespace AND relname NOT LIKE 'metric_events_%'").fetchall()}
    assert {table for table, *_ in rows} == secured  # every secured table has its policy
    for table, name, qual, check in rows:
        assert name == "tenant_isolation" and "system_scope" not in qual and "system_scope" not in (check or ""), table


async def test_the_definer_lookups_are_narrow_and_owned_by_the_owner(pg):
    app, owner, *_ = pg
    with psycopg.connect(owner) as conn:
        functions = conn.execute(
            "SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef, p.proconfig FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef").fetchall()
    names = {name for name, *_ in functions}
    assert {"fortium_api_key", "fortium_accounts_by_email", "fortium_refresh_token_organization",
            "fortium_organization_by_slug", "fortium_rollup_states"} <= names
    for name, owner_role, _definer, config in functions:
        assert owner_role != APP_ROLE and any(c.startswith("search_path=") for c in config or []), name
    with psycopg.connect(app) as conn:  # the app role may run them, not change them
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE OR REPLACE FUNCTION fortium_organization_by_slug(org_slug text) RETURNS uuid "
                         "LANGUAGE sql AS $$ SELECT NULL::uuid $$")
