"""Users, teams, projects, keys, organisation settings and the audit log over REST."""
from __future__ import annotations

import pytest

from rest_support import bearer

pytestmark = pytest.mark.anyio


@pytest.fixture
def admin(keys):
    return bearer(keys["alice_admin"])


async def test_users_are_created_paginated_filtered_and_deactivated_softly(api, admin, keys):
    for i in range(3):
        created = await api.post("/api/users", json={"email": f"dev{i}@a.test", "name": f"Dev {i}"}, headers=admin)
        assert created.status_code == 201
    page = (await api.get("/api/users?limit=2&page=2", headers=admin)).json()
    assert (page["total"], page["page"], len(page["items"])) == (5, 2, 2)
    devs = (await api.get("/api/users?role=developer&q=dev", headers=admin)).json()
    assert devs["total"] == 3
    dev0 = next(u for u in devs["items"] if u["email"] == "dev0@a.test")
    gone = await api.delete(f"/api/users/{dev0['id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["active"] is False
    inactive = (await api.get("/api/users?active=false", headers=admin)).json()
    assert [u["email"] for u in inactive["items"]] == ["dev0@a.test"]  # kept, just inactive


@pytest.mark.parametrize("query, field", [("limit=101", "limit"), ("page=0", "page"), ("page=99999999999999999999", "page"),
                                          ("role=king", "role"), ("colour=red", "colour")])
async def test_list_parameters_are_validated(api, admin, query, field):
    response = await api.get(f"/api/users?{query}", headers=admin)
    assert response.status_code == 422 and response.json()["error"]["field"] == field


@pytest.mark.parametrize("body, field", [({"email": "not-an-email"}, "email"), ({"email": "a@b.co", "role": "king"}, "role"),
                                         ({"email": "a@b.co", "password": "short"}, "password"), ({"email": "a@b.co", "x": 1}, "x")])
async def test_bad_user_bodies_name_the_field(api, admin, body, field):
    response = await api.post("/api/users", json=body, headers=admin)
    assert response.status_code == 422 and response.json()["error"]["field"] == field


async def test_conflicts_are_409(api, admin):
    assert (await api.post("/api/users", json={"email": "bob@a.test"}, headers=admin)).status_code == 409
    assert (await api.post("/api/teams", json={"name": "Ops"}, headers=admin)).status_code == 201
    assert (await api.post("/api/teams", json={"name": "Ops"}, headers=admin)).status_code == 409
    assert (await api.post("/api/projects", json={"name": "web"}, headers=admin)).status_code == 201
    assert (await api.post("/api/projects", json={"name": "web"}, headers=admin)).status_code == 409


async def test_teams_members_and_projects(api, admin):
    team = (await api.post("/api/teams", json={"name": "Platform"}, headers=admin)).json()
    added = await api.post(f"/api/teams/{team['id']}/members", json={"user": "bob@a.test", "role": "lead"}, headers=admin)
    assert added.status_code == 201
    members = (await api.get("/api/teams/platform/members", headers=admin)).json()
    assert members == [{"email": "bob@a.test", "role": "lead"}]
    project = (await api.post("/api/projects", json={"name": "web-app", "team": "platform"}, headers=admin)).json()
    assert project["team_id"] == team["id"]
    renamed = await api.put(f"/api/projects/{project['id']}", json={"repository_url": "https://git.example/web"}, headers=admin)
    assert renamed.json()["repository_url"] == "https://git.example/web"
    archived = await api.delete(f"/api/projects/{project['id']}", headers=admin)
    assert archived.json()["status"] == "archived"
    assert (await api.get("/api/projects?status=active", headers=admin)).json()["total"] == 0


async def _signed_in(api, store, people, email: str) -> dict[str, str]:
    from fortium_metrics.accounts import set_password
    from fortium_metrics.principal import Principal

    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await set_password(uow, email, "a long enough password")
    session = await api.post("/api/auth/login", json={"email": email, "password": "a long enough password",
                                                      "org": people.slug_a})
    return bearer(session.json()["access_token"])


async def test_a_team_lead_cannot_change_who_is_in_their_team_so_cannot_read_anyone(api, admin, store, people):
    """Issue 12, item 2: a lead who could add the admin to their team would then read the admin's rows."""
    for name in ("Platform", "Other"):
        await api.post("/api/teams", json={"name": name}, headers=admin)
    await api.post("/api/teams/platform/members", json={"user": "bob@a.test", "role": "lead"}, headers=admin)
    await api.post("/api/users", json={"email": "dana@a.test"}, headers=admin)
    await api.post("/api/users", json={"email": "mia@a.test", "role": "manager"}, headers=admin)
    bob, mia = await _signed_in(api, store, people, "bob@a.test"), await _signed_in(api, store, people, "mia@a.test")
    for user, role in (("alice@a.test", "member"), ("dana@a.test", "member"), ("dana@a.test", "lead")):
        refused = await api.post("/api/teams/platform/members", json={"user": user, "role": role}, headers=bob)
        assert refused.status_code == 403, (user, role)
    assert (await api.get("/api/v1/summary?user=alice@a.test", headers=bob)).status_code == 403
    assert (await api.post("/api/teams", json={"name": "Mine"}, headers=bob)).status_code == 403
    # Managers and admins decide who is in a team, and who leads it.
    assert (await api.post("/api/teams/platform/members", json={"user": "dana@a.test"}, headers=mia)).status_code == 201
    members = (await api.get("/api/teams/platform/members", headers=admin)).json()
    assert {m["email"]: m["role"] for m in members} == {"bob@a.test": "lead", "dana@a.test": "member"}


async def test_keys_are_shown_once_listed_without_secret_and_revoked(api, admin):
    created = await api.post("/api/keys", json={"name": "ci", "scopes": ["ingest"]}, headers=admin)
    secret = created.json()["secret"]
    assert created.status_code == 201 and secret.startswith("fmk_")
    listed = await api.get("/api/keys", headers=admin)
    assert secret not in listed.text
    assert (await api.post("/api/v1/metrics/batch", json={"events": []}, headers=bearer(secret))).status_code == 200
    revoked = await api.delete(f"/api/keys/{created.json()['id']}", headers=admin)
    assert revoked.json()["revoked_at"] is not None
    assert (await api.post("/api/v1/metrics/batch", json={"events": []}, headers=bearer(secret))).status_code == 401


async def test_organisation_settings_change_is_audited(api, admin):
    updated = await api.put("/api/org", json={"data_retention_days": 90, "unknown_users": "reject"}, headers=admin)
    assert updated.json()["data_retention_days"] == 90 and updated.json()["settings"]["unknown_users"] == "reject"
    entries = (await api.get("/api/audit?action=org.settings", headers=admin)).json()["items"]
    assert entries[0]["details"]["data_retention_days"] == {"old": 365, "new": 90}


async def test_security_actions_land_in_the_audit_log_which_cannot_be_edited(api, admin):
    user = (await api.post("/api/users", json={"email": "dev@a.test"}, headers=admin)).json()
    await api.put(f"/api/users/{user['id']}", json={"role": "manager"}, headers=admin)
    key = (await api.post("/api/keys", json={"name": "k"}, headers=admin)).json()
    await api.delete(f"/api/keys/{key['id']}", headers=admin)
    actions = {e["action"] for e in (await api.get("/api/audit?limit=100", headers=admin)).json()["items"]}
    assert {"user.create", "user.role", "apikey.create", "apikey.revoke"} <= actions
    assert (await api.delete("/api/audit", headers=admin)).status_code == 405
    assert (await api.put("/api/audit", json={}, headers=admin)).status_code == 405


async def test_an_admin_of_another_organisation_gets_404_for_org_a_objects(api, admin, store, people):
    from fortium_metrics import apikeys
    from fortium_metrics.principal import Principal

    async with store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        other_admin = bearer((await apikeys.create_api_key(uow, "b admin", ["read", "admin"])).secret)
    project = (await api.post("/api/projects", json={"name": "secret"}, headers=admin)).json()
    key = (await api.post("/api/keys", json={"name": "k"}, headers=admin)).json()
    for method, path in (("PUT", f"/api/users/{people.alice.user_id}"), ("DELETE", f"/api/users/{people.alice.user_id}"),
                         ("GET", f"/api/projects/{project['id']}"), ("DELETE", f"/api/keys/{key['id']}"),
                         ("GET", "/api/teams/platform/members")):
        response = await api.request(method, path, json={"name": "x"} if method == "PUT" else None, headers=other_admin)
        assert response.status_code == 404, (method, path, response.text)
    listed = (await api.get("/api/users", headers=other_admin)).json()
    assert {u["email"] for u in listed["items"]} == {"charlie@b.test"}



async def test_a_password_change_refused_for_lack_of_scope_says_it_is_about_the_password(api, keys, people):
    refused = await api.put(f"/api/users/{people.bob.user_id}", json={"password": "a long enough password"},
                            headers=bearer(keys["alice"]))  # alice is an admin, but this key has no admin scope
    assert refused.status_code == 403
    message = refused.json()["error"]["message"]
    assert "password" in message and "name, role or active" not in message


async def test_setting_a_password_over_rest_ends_the_users_sessions(api, admin, people):
    password = "bob's first long password"
    assert (await api.put(f"/api/users/{people.bob.user_id}", json={"password": password}, headers=admin)).status_code == 200
    session = (await api.post("/api/auth/login", json={"email": "bob@a.test", "password": password, "org": people.slug_a})).json()
    assert (await api.get("/api/auth/me", headers=bearer(session["access_token"]))).status_code == 200
    changed = await api.put(f"/api/users/{people.bob.user_id}", json={"password": "bob's second long password"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["email"] == "bob@a.test"
    assert (await api.get("/api/auth/me", headers=bearer(session["access_token"]))).status_code == 401
    refreshed = await api.post("/api/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 401
    entries = (await api.get("/api/audit?action=user.password", headers=admin)).json()["items"]
    assert [e["target"] for e in entries] == ["bob@a.test", "bob@a.test"]


async def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(api, admin, people):
    """Issue 12, item 11: alice is org A's only admin; refusing keeps someone able to administer it."""
    me = f"/api/users/{people.alice.user_id}"
    for change in ({"role": "developer"}, {"role": "manager"}, {"active": False}):
        refused = await api.put(me, json=change, headers=admin)
        assert refused.status_code == 409, change
        assert refused.json()["error"]["field"] == next(iter(change)), refused.json()
    assert (await api.delete(me, headers=admin)).status_code == 409
    listed = (await api.get("/api/users", headers=admin)).json()["items"]
    assert [(u["role"], u["active"]) for u in listed if u["email"] == "alice@a.test"] == [("admin", True)]
    await api.post("/api/users", json={"email": "erin@a.test", "role": "admin"}, headers=admin)
    demoted = await api.put(me, json={"role": "manager"}, headers=admin)  # now another admin remains
    assert demoted.status_code == 200 and demoted.json()["role"] == "manager"


@pytest.mark.parametrize("field, value", [("data_retention_days", True), ("data_retention_days", "90"),
                                          ("data_retention_days", 90.5), ("min_group_size", False),
                                          ("name", 7), ("label_dimensions", "team")])
async def test_organisation_settings_take_json_types_strictly(api, admin, field, value):
    """Issue 12, item 11: `data_retention_days: true` was taken as 1 day of retention."""
    before = (await api.get("/api/org", headers=admin)).json()
    refused = await api.put("/api/org", json={field: value}, headers=admin)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == field, refused.json()
    assert (await api.get("/api/org", headers=admin)).json() == before
