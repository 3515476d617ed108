"""Alice (org A admin), Bob (org A developer), Charlie (org B): Charlie sees nothing of org A,
through every store path, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import aliased

from fortium_metrics import apikeys, orgs, teams, users
from fortium_metrics.errors import NotFound
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import ApiKey, MetricEvent, Organization, Team, User
from fortium_metrics.store.uow import TenancyViolation

pytestmark = pytest.mark.anyio
NOW = datetime.now(timezone.utc)


async def _alice_writes_data(store, people) -> None:
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Platform")
        await apikeys.create_api_key(uow, "alice laptop")
        for minutes in range(5):
            uow.session.add(MetricEvent(
                kind="tool_execution", name="Read", user_id=people.alice.user_id, source="test",
                dedup_key=f"e{minutes}", occurred_at=NOW - timedelta(minutes=minutes),
                duration_ms=10.0 * minutes, success=True, attributes={},
            ))


async def test_bob_reads_his_organisations_data(store, people):
    await _alice_writes_data(store, people)
    async with store.unit_of_work(people.alice) as uow:
        assert {u.email for u in await users.list_users(uow)} == {"alice@a.test", "bob@a.test"}
    async with store.unit_of_work(people.bob) as uow:
        assert [t.slug for t in await teams.list_teams(uow)] == ["platform"]
        assert await uow.session.scalar(select(func.count()).select_from(MetricEvent)) == 5


async def test_charlie_reads_counts_and_aggregates_nothing_of_org_a(store, people):
    await _alice_writes_data(store, people)
    charlie_admin = Principal.org_admin(people.org_b)  # every store path, whatever Charlie's role allows
    async with store.unit_of_work(charlie_admin) as uow:
        assert [u.email for u in await users.list_users(uow)] == ["charlie@b.test"]
        assert await apikeys.list_api_keys(uow) == []
    async with store.unit_of_work(people.charlie) as uow:
        assert await teams.list_teams(uow) == []
        assert await uow.session.scalar(select(func.count()).select_from(MetricEvent)) == 0
        assert await uow.session.scalar(select(func.sum(MetricEvent.duration_ms))) is None
        grouped = await uow.session.execute(select(MetricEvent.name, func.count()).group_by(MetricEvent.name))
        assert grouped.all() == []
        # Joins and aliases are filtered too.
        other = aliased(User)
        joined = await uow.session.execute(select(MetricEvent.id).join(other, other.id == MetricEvent.user_id))
        assert joined.all() == []
        assert [o.id for o in await orgs.list_organizations(uow)] == [people.org_b]


async def test_charlie_gets_not_found_for_org_a_objects_by_id(store, people):
    await _alice_writes_data(store, people)
    async with store.unit_of_work(people.charlie) as uow:
        with pytest.raises(NotFound):
            await users.get_user(uow, people.alice.user_id)
        with pytest.raises(NotFound):
            await users.get_user(uow, "alice@a.test")
        with pytest.raises(NotFound):
            await teams.get_team(uow, "platform")
        assert await uow.session.get(User, (people.org_a, people.alice.user_id)) is None


async def test_charlie_cannot_update_or_delete_org_a_rows(store, people):
    await _alice_writes_data(store, people)
    async with store.unit_of_work(people.charlie) as uow:
        await uow.session.execute(update(User).values(name="pwned"))
        await uow.session.execute(delete(MetricEvent))
        await uow.session.execute(update(Organization).values(name="pwned"))
    async with store.unit_of_work(people.alice) as uow:
        names = {u.name for u in await users.list_users(uow)}
        assert names == {"Alice", "Bob"}
        assert await uow.session.scalar(select(func.count()).select_from(MetricEvent)) == 5
        assert (await orgs.list_organizations(uow))[0].name == "Org A"


async def test_charlie_cannot_write_into_org_a(store, people):
    with pytest.raises(TenancyViolation):
        async with store.unit_of_work(people.charlie) as uow:
            uow.session.add(Team(organization_id=people.org_a, name="Evil", slug="evil", description=""))
            await uow.session.flush()
    from sqlalchemy import insert

    with pytest.raises(TenancyViolation):
        async with store.unit_of_work(people.charlie) as uow:
            await uow.session.execute(insert(Team), [{"organization_id": people.org_a, "name": "E", "slug": "e", "description": ""}])
    async with store.unit_of_work(people.alice) as uow:
        assert await teams.list_teams(uow) == []


async def test_new_rows_are_stamped_with_the_principals_organisation(store, people):
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        team = await teams.create_team(uow, "Charlie Team")
    assert team.organization_id == people.org_b


async def test_textual_sql_is_refused_in_a_tenant_unit_of_work(store, people):
    with pytest.raises(TenancyViolation):
        async with store.unit_of_work(people.charlie) as uow:
            await uow.session.execute(text("SELECT count(*) FROM users"))


async def test_a_unit_of_work_needs_a_principal(store):
    with pytest.raises(TenancyViolation):
        async with store.unit_of_work(None):
            pass


async def test_api_key_of_org_a_is_invisible_to_charlie_by_prefix(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await apikeys.create_api_key(uow, "k")
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        with pytest.raises(NotFound):
            await apikeys.revoke_api_key(uow, new.key.prefix)
        assert await uow.session.scalar(select(ApiKey).where(ApiKey.prefix == new.key.prefix)) is None
