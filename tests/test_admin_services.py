"""The services behind the administration pages, on SQLite and PostgreSQL: invitations (hashed,
one-time, expiring, replaced), team rename/archive, user search by team and activity, the audit
log's filters, keys of one's own; each within its organisation and its permission."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from fortium_metrics import apikeys, audit, invitations, teams, users
from fortium_metrics.accounts import set_password
from fortium_metrics.errors import Conflict, Forbidden, Invalid, NotFound
from fortium_metrics.pagination import PageQuery
from fortium_metrics.passwords import verify_password
from fortium_metrics.principal import Principal
from fortium_metrics.store.invitation_models import Invitation

pytestmark = pytest.mark.anyio
PASSWORD = "a sufficiently long password"


async def test_an_invitation_stores_only_a_hash_and_creates_the_account_once(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await invitations.invite(uow, "Newbie@A.test", "New", "manager")
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        row = await uow.session.scalar(select(Invitation))
    assert row.token_hash == hashlib.sha256(new.token.encode()).hexdigest() and new.token not in row.token_hash
    assert (await invitations.look_up(store, new.token)).email == "newbie@a.test"
    user = await invitations.accept(store, new.token, PASSWORD)
    assert (user.email, user.role, user.name) == ("newbie@a.test", "manager", "New")
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        stored = await users.get_user(uow, "newbie@a.test")
        assert verify_password(stored.password_hash, PASSWORD) and stored.organization_id == people.org_a
    with pytest.raises(NotFound):
        await invitations.accept(store, new.token, PASSWORD)
    async with store.unit_of_work(people.alice) as uow:
        assert {"user.invite", "user.invite.accept", "user.create", "user.password"} <= {
            e.action for e in (await audit.search(uow, PageQuery(limit=100), action="user.*"))[0]}


async def test_a_weak_password_keeps_the_invitation_and_creates_nobody(store, people):
    async with store.unit_of_work(people.alice) as uow:
        new = await invitations.invite(uow, "weak@a.test")
    with pytest.raises(Invalid) as refused:
        await invitations.accept(store, new.token, "short")
    assert refused.value.field == "password"
    async with store.unit_of_work(people.alice) as uow:
        assert (await users.search_users(uow, PageQuery(), q="weak"))[1] == 0
    assert (await invitations.accept(store, new.token, PASSWORD)).email == "weak@a.test"


async def test_expired_replaced_and_withdrawn_invitations_do_not_work(store, people):
    async with store.unit_of_work(people.alice) as uow:
        first = await invitations.invite(uow, "late@a.test")
        second = await invitations.invite(uow, "late@a.test")  # replaces the first
        gone = await invitations.invite(uow, "gone@a.test")
        expired = await invitations.invite(uow, "old@a.test", days=1)
        await uow.session.execute(update(Invitation).where(Invitation.email == "old@a.test")
                                  .values(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
        await invitations.withdraw(uow, str(gone.invitation.id))
        assert [i.email for i in await invitations.pending_invitations(uow)] == ["late@a.test"]
    for token in (first.token, gone.token, expired.token, "fmi_made-up"):
        with pytest.raises(NotFound) as error:
            await invitations.look_up(store, token)
        assert error.value.field == "token"
    assert (await invitations.look_up(store, second.token)).email == "late@a.test"


async def test_only_admins_invite_and_never_an_existing_person(store, people):
    async with store.unit_of_work(people.bob) as uow:
        with pytest.raises(Forbidden):
            await invitations.invite(uow, "x@a.test")
    async with store.unit_of_work(people.alice) as uow:
        with pytest.raises(Conflict):
            await invitations.invite(uow, "bob@a.test")
    async with store.unit_of_work(people.charlie) as uow:  # org B's admin sees none of org A's
        with pytest.raises(Forbidden):
            await invitations.pending_invitations(uow)
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        async with store.unit_of_work(people.alice) as uow_a:
            invited = await invitations.invite(uow_a, "for-a@a.test")
        with pytest.raises(NotFound):
            await invitations.withdraw(uow, str(invited.invitation.id))


async def test_teams_are_renamed_archived_and_restored_by_admins(store, people):
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Core")
        team = await teams.update_team(uow, "core", name="Core Platform", description="Infra", archived=True)
        assert (team.name, team.description, team.archived_at is not None, team.slug) == ("Core Platform", "Infra", True, "core")
        assert (await teams.update_team(uow, "core", archived=False)).archived_at is None
        actions = [e.action for e in (await audit.search(uow, PageQuery(limit=100), action="team.*"))[0]]
        assert {"team.update", "team.archive", "team.restore"} <= set(actions)
        with pytest.raises(Invalid):
            await teams.update_team(uow, "core", name=" ")
    async with store.unit_of_work(people.bob) as uow:
        with pytest.raises(Forbidden):
            await teams.update_team(uow, "core", name="Mine")
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        with pytest.raises(NotFound):
            await teams.update_team(uow, "core", name="Theirs")


async def test_users_searched_by_team_and_their_activity(store, people, app):
    from fortium_metrics.ingest import record_events

    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Web")
        await teams.add_member(uow, "web", "bob@a.test")
        assert [u.email for u in (await users.search_users(uow, PageQuery(), team="web"))[0]] == ["bob@a.test"]
        with pytest.raises(NotFound):
            await users.search_users(uow, PageQuery(), team="nope")
        before = (await users.activity(uow, [people.bob.user_id]))[people.bob.user_id]
    assert before.last is None
    await record_events(app.state.ctx.ingestor, people.bob, [
        {"type": "session_start", "session_id": "act-1", "timestamp": "2026-11-30T08:00:00Z"},
        {"type": "tool_execution", "tool_name": "Read", "session_id": "act-1", "timestamp": "2026-11-30T08:05:00Z"}], "test")
    async with store.unit_of_work(people.alice) as uow:
        after = (await users.activity(uow, [people.bob.user_id]))[people.bob.user_id]
    assert after.last_session == datetime(2026, 11, 30, 8, tzinfo=timezone.utc)
    async with store.unit_of_work(people.bob) as uow:
        mine = await users.my_events(uow)
        with pytest.raises(Forbidden):
            await users.activity(uow, [people.bob.user_id])
    assert (mine.first, mine.last, mine.count) == (datetime(2026, 11, 30, 8, tzinfo=timezone.utc),
                                                   datetime(2026, 11, 30, 8, 5, tzinfo=timezone.utc), 2)
    async with store.unit_of_work(people.charlie) as uow:
        assert (await users.my_events(uow)).count == 0


async def test_audit_search_filters_by_actor_action_target_and_dates(store, people):
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Red")
        await set_password(uow, "bob@a.test", PASSWORD)
    async with store.unit_of_work(people.alice) as uow:
        def found(**filters):
            return audit.search(uow, PageQuery(limit=100), **filters)

        assert [e.target for e in (await found(action="team.create"))[0]] == ["red"]
        assert {e.action for e in (await found(action="user.*"))[0]} >= {"user.password", "user.create"}
        assert {e.target for e in (await found(actor="ALICE@", action="user.password"))[0]} == {"bob@a.test"}
        assert (await found(target="%"))[1] == 0  # a LIKE wildcard is a plain character here
        assert (await found(actor="ali\x00ce", action="user.\x00*"))[1] == 0  # PostgreSQL cannot take U+0000
        now = datetime.now(timezone.utc)
        assert (await found(since=now + timedelta(minutes=5)))[1] == 0
        assert (await found(until=now - timedelta(days=1)))[1] == 0
        assert (await found(since=now - timedelta(hours=1), action="team.create"))[1] == 1
        assert "team.create" in await audit.actions(uow)
    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        assert (await audit.search(uow, PageQuery(limit=100), action="team.create"))[1] == 0


async def test_keys_of_ones_own(store, people):
    async with store.unit_of_work(people.bob) as uow:
        mine = await apikeys.create_own_key(uow, "laptop")
        assert (mine.key.user_id, mine.key.scopes) == (people.bob.user_id, ["ingest", "read"])
        assert [k.name for k in await apikeys.list_own_keys(uow)] == ["laptop"]
        with pytest.raises(Forbidden):
            await apikeys.create_api_key(uow, "org key", ["admin"])
    async with store.unit_of_work(people.alice) as uow:
        with pytest.raises(NotFound):  # someone else's key is not yours to revoke here
            await apikeys.revoke_own_key(uow, str(mine.key.id))
        assert await apikeys.list_own_keys(uow) == []
    async with store.unit_of_work(people.charlie) as uow:
        with pytest.raises(NotFound):
            await apikeys.revoke_own_key(uow, str(mine.key.id))
    async with store.unit_of_work(people.bob) as uow:
        assert (await apikeys.revoke_own_key(uow, mine.key.prefix)).revoked_at is not None
        with pytest.raises(Invalid):
            await apikeys.create_own_key(uow, "  ")


async def test_an_organisation_key_has_no_keys_of_its_own(store, people):
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await apikeys.create_api_key(uow, "org-wide uploader", ["ingest"])  # bound to nobody
    org_key = Principal(people.org_a, None, "developer", frozenset({"ingest", "read"}), "api_key", "fm_org")
    async with store.unit_of_work(org_key) as uow:
        assert await apikeys.list_own_keys(uow) == []


async def test_the_rest_api_filters_the_audit_log_like_the_page(api, store, people, keys):
    from rest_support import bearer

    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Blue")
    answer = await api.get("/api/audit", params={"action": "team.*", "target": "blu", "actor": "alice"},
                           headers=bearer(keys["alice_admin"]))
    assert answer.status_code == 200 and [(e["action"], e["target"]) for e in answer.json()["items"]] == [("team.create", "blue")]
    late = await api.get("/api/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=bearer(keys["alice_admin"]))
    assert late.json()["total"] == 0
    wrong = await api.get("/api/audit", params={"since": "soon"}, headers=bearer(keys["alice_admin"]))
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "since"


async def test_the_rest_api_renames_archives_and_removes_members_like_the_page(api, store, people, keys):
    from rest_support import bearer

    admin = bearer(keys["alice_admin"])
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Green")
        await teams.add_member(uow, "green", "bob@a.test")
    renamed = await api.put("/api/teams/green", json={"name": "Green Ops", "archived": True}, headers=admin)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Green Ops" and renamed.json()["archived_at"]
    assert (await api.put("/api/teams/green", json={"archived": 1}, headers=admin)).status_code == 422
    assert (await api.put("/api/teams/green", json={"name": "x"}, headers=bearer(keys["bob"]))).status_code == 403
    removed = await api.delete(f"/api/teams/green/members/{people.bob.user_id}", headers=admin)
    assert removed.status_code == 200 and removed.json()["email"] == "bob@a.test"
    assert (await api.get("/api/teams/green/members", headers=admin)).json() == []
    assert (await api.delete(f"/api/teams/green/members/{people.bob.user_id}", headers=admin)).status_code == 404
