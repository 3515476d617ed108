"""What a request or a job does before an organisation is known — key authentication, sign-in,
refresh and sign-out, the SSO organisation, the rollups and partitions jobs — works with the
application role alone (issue 12, item 6): on PostgreSQL through narrow SECURITY DEFINER
functions, since the role's policies have no bypass any more; on SQLite through the store.
The PostgreSQL half also runs with a schema owner that is not a superuser, so the owner's own
row-level security (FORCED on every table) is in force inside the functions."""
from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest

from conftest import APP_ROLE, Backend, operator_store
from fortium_metrics import apikeys, orgs, users
from fortium_metrics.accounts import Accounts, set_password
from fortium_metrics.analytics.rollups import rebuild, stale_organizations
from fortium_metrics.auth import principal_for_api_key
from fortium_metrics.config import load_settings
from fortium_metrics.errors import ConfigError, NotFound, Unauthorized
from fortium_metrics.jwt_tokens import TokenKeys
from fortium_metrics.login_guard import LoginGuard
from fortium_metrics.maintenance import ensure_partitions
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.uow import Store

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"


async def _scenario(backend: Backend, tmp_path) -> None:
    operator = operator_store(backend)
    served = Store(create_engine(backend.url))  # as `serve` has it: no owner connection
    try:
        slug = f"lookups-{uuid.uuid4().hex[:8]}"
        async with operator.unit_of_work(Principal.system("test")) as uow:
            org = (await orgs.create_organization(uow, "Lookups", slug)).id
        async with operator.unit_of_work(Principal.org_admin(org)) as uow:
            await users.create_user(uow, "dana@lookups.test", "Dana", "admin")
            await set_password(uow, "dana@lookups.test", PASSWORD)
            key = await apikeys.create_api_key(uow, "laptop", ["ingest", "read"], "dana@lookups.test")

        assert (await principal_for_api_key(served, key.secret)).organization_id == org
        assert await orgs.id_for_slug(served, slug) == org
        with pytest.raises(NotFound):
            await orgs.id_for_slug(served, slug + "-nope")

        settings = load_settings(data_dir=tmp_path, secret_key="s" * 48)
        accounts = Accounts(served, TokenKeys.from_settings(settings), LoginGuard(settings), timedelta(days=30))
        pair = await accounts.login("dana@lookups.test", PASSWORD, "10.0.0.1")
        assert pair.organization_id == org
        with pytest.raises(Unauthorized):
            await accounts.login("dana@lookups.test", "wrong password!!", "10.0.0.2")
        renewed = await accounts.refresh(pair.refresh_token)
        await accounts.logout(renewed.refresh_token)
        with pytest.raises(Unauthorized):
            await accounts.principal_for_access_token(renewed.access_token)
        with pytest.raises(Unauthorized):
            await accounts.refresh("fmr_unknown")
        await accounts.guard.aclose()

        assert org not in await stale_organizations(served)
        async with operator.unit_of_work(Principal.org_admin(org)) as uow:
            await orgs.update_settings(uow, timezone="Europe/Paris")
        assert org in await stale_organizations(served)  # built for UTC
        assert org in await rebuild(served)
        assert org not in await stale_organizations(served)
        assert await ensure_partitions(served, 1) >= 0

        if backend.name == "postgres":  # no way across organisations without the owner's URL
            with pytest.raises(ConfigError, match="FORTIUM_ADMIN_DATABASE_URL"):
                async with served.unit_of_work(Principal.system("test")):
                    pass
    finally:
        await served.dispose()
        await operator.dispose()


async def test_requests_and_jobs_need_no_system_scope(backend, tmp_path):
    await _scenario(backend, tmp_path)


@pytest.fixture(scope="module")
def non_superuser_owner(pg_databases) -> Backend:
    role = f"fortium_owner_{uuid.uuid4().hex[:8]}"
    name = f"fortium_test_{uuid.uuid4().hex[:10]}"
    pg_databases._exec(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
    pg_databases._exec(f'CREATE DATABASE "{name}" OWNER {role}')
    pg_databases.created.append(name)
    owner = pg_databases.admin.set(drivername="postgresql", database=name, username=role, password=None)
    owner_url = owner.render_as_string(hide_password=False)
    migrate.upgrade(owner_url, "head", APP_ROLE)
    with psycopg.connect(owner_url) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
    return Backend("postgres", pg_databases.app_url(owner_url), owner_url)


@pytest.mark.postgres
async def test_the_lookups_work_when_the_owner_is_not_a_superuser(non_superuser_owner, tmp_path):
    await _scenario(non_superuser_owner, tmp_path)
