from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from fortium_metrics import apikeys, orgs, users
from fortium_metrics.auth import LAST_USED_RESOLUTION, principal_for_api_key
from fortium_metrics.errors import Unauthorized
from fortium_metrics.principal import Principal
from fortium_metrics.store.engine import async_url
from fortium_metrics.store.models import ApiKey
from fortium_metrics.store.types import utcnow
from fortium_metrics.store.uow import Store
from sqlalchemy import select, text, update

pytestmark = pytest.mark.anyio


async def test_api_key_resolves_to_its_organisation_and_user(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await apikeys.create_api_key(uow, "laptop", ["ingest"], "bob@a.test")
    principal = await principal_for_api_key(store, new.secret)
    assert (principal.organization_id, principal.user_id, principal.role) == (people.org_a, people.bob.user_id, "developer")
    assert principal.scopes == {"ingest"}


async def test_only_the_hash_of_the_secret_is_stored(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await apikeys.create_api_key(uow, "laptop")
    async with store.unit_of_work(people.alice) as uow:
        key = await uow.session.scalar(select(ApiKey))
    assert new.secret not in (key.secret_hash, key.prefix) and key.secret_hash == apikeys.hash_secret(new.secret)


@pytest.mark.parametrize("token", [None, "", "garbage", "fmk_abc_def", "fmk_aaaaaaaaaa_" + "x" * 40])
async def test_malformed_or_unknown_keys_are_refused(store, token):
    with pytest.raises(Unauthorized):
        await principal_for_api_key(store, token)


async def test_wrong_secret_with_a_real_prefix_is_refused(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await apikeys.create_api_key(uow, "laptop")
    with pytest.raises(Unauthorized, match="invalid"):
        await principal_for_api_key(store, new.secret[:-4] + "AAAA")


async def test_revoked_key_is_refused(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await apikeys.create_api_key(uow, "laptop")
    async with store.unit_of_work(people.alice) as uow:
        await apikeys.revoke_api_key(uow, new.key.prefix)
    with pytest.raises(Unauthorized, match="revoked"):
        await principal_for_api_key(store, new.secret)


async def test_a_deactivated_users_key_is_refused_and_an_organisation_key_reads_as_manager(store, people):
    async with store.unit_of_work(people.alice) as uow:
        bobs = await apikeys.create_api_key(uow, "laptop", ["ingest"], "bob@a.test")
        dashboard = await apikeys.create_api_key(uow, "dashboard", ["read"])
    async with store.unit_of_work(people.alice) as uow:
        await users.update_user(uow, "bob@a.test", active=False)
    with pytest.raises(Unauthorized, match="deactivated"):
        await principal_for_api_key(store, bobs.secret)
    principal = await principal_for_api_key(store, dashboard.secret)
    assert (principal.organization_id, principal.user_id, principal.role) == (people.org_a, None, "manager")


async def _last_used(store, people, prefix):
    async with store.unit_of_work(people.alice) as uow:
        return await uow.session.scalar(select(ApiKey.last_used_at).where(ApiKey.prefix == prefix))


async def test_last_use_is_recorded_at_most_once_a_minute(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await apikeys.create_api_key(uow, "laptop")
    assert await _last_used(store, people, new.key.prefix) is None
    await principal_for_api_key(store, new.secret)
    first = await _last_used(store, people, new.key.prefix)
    assert first is not None and abs(utcnow() - first) < timedelta(seconds=30)
    await principal_for_api_key(store, new.secret)
    assert await _last_used(store, people, new.key.prefix) == first  # within the minute: not rewritten
    old = utcnow() - LAST_USED_RESOLUTION - timedelta(seconds=5)
    async with store.unit_of_work(people.alice) as uow:
        await uow.session.execute(update(ApiKey).where(ApiKey.prefix == new.key.prefix).values(last_used_at=old))
    await principal_for_api_key(store, new.secret)
    assert await _last_used(store, people, new.key.prefix) > first


@pytest.mark.postgres
async def test_the_key_lookup_leaves_the_connection_seeing_nothing(pg_migrated):
    """The key lookup is a SECURITY DEFINER function: the pooled connection, handed out again
    afterwards, is in no organisation's scope and sees no organisation's rows."""
    owner_url, app_url = pg_migrated
    store = Store(create_async_engine(async_url(app_url), pool_size=1, max_overflow=0),  # one connection, reused
                  create_async_engine(async_url(owner_url)))
    try:
        async with store.unit_of_work(Principal.system("test")) as uow:
            org = await orgs.create_organization(uow, "Scope", f"scope-{uuid.uuid4().hex[:8]}")
        async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
            new = await apikeys.create_api_key(uow, "laptop")
        assert (await principal_for_api_key(store, new.secret)).organization_id == org.id
        with pytest.raises(Unauthorized, match="invalid"):  # and after a refused key
            await principal_for_api_key(store, new.secret[:-4] + "AAAA")
        async with store.engine.connect() as connection:
            scope = await connection.scalar(text("SELECT current_setting('app.system_scope', true)"))
            visible = await connection.scalar(text("SELECT count(*) FROM api_keys"))
        assert scope in (None, "", "off") and visible == 0
    finally:
        await store.dispose()
