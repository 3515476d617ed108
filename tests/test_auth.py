from __future__ import annotations

import pytest

from fortium_metrics import apikeys
from fortium_metrics.auth import principal_for_api_key
from fortium_metrics.errors import Unauthorized
from fortium_metrics.store.models import ApiKey
from sqlalchemy import select

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
