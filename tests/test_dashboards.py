"""Saved dashboard layouts through REST, on SQLite and PostgreSQL: validation against the analytics
catalogue, ownership, publishing rules, the built-in layout per role, and Alice/Bob/Charlie."""
from __future__ import annotations

import copy

import psycopg
import pytest

from fortium_metrics import teams, users
from fortium_metrics.dashboards.defaults import OVERVIEW, PERSONAL, TEAM
from fortium_metrics.dashboards.layout import check_widgets
from fortium_metrics.principal import Principal
from rest_support import bearer, make_key

pytestmark = pytest.mark.anyio
LAYOUT = {"name": "Cost watch", "widgets": [
    {"id": "kpis", "title": "Figures", "chart": "tiles", "measures": ["sessions", "cost_usd"], "x": 0, "y": 0,
     "w": 12, "h": 2},
    {"id": "models", "title": "Cost by model", "chart": "bar", "measures": ["cost_usd"], "group_by": ["model"],
     "filters": {"team": ["platform"]}, "x": 0, "y": 2, "w": 6, "h": 4}]}


def with_widget(**changes) -> dict:
    layout = copy.deepcopy(LAYOUT)
    layout["widgets"][1].update(changes)
    return layout


@pytest.fixture
async def tokens(app, store, people) -> dict[str, str]:
    """Sign-in tokens: alice (admin), bob (developer, member of platform), charlie (org B), plus in
    org A lena (developer, lead of platform), mona (manager) and dev (developer in no team)."""
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        for email, role in (("lena@a.test", "developer"), ("mona@a.test", "manager"), ("dev@a.test", "developer")):
            await users.create_user(uow, email, email.split("@")[0].title(), role)
        team = await teams.create_team(uow, "Platform")
        await teams.add_member(uow, team.slug, "lena@a.test", "lead")
        await teams.add_member(uow, team.slug, "bob@a.test", "member")
    found = {}
    for email, org in (("alice@a.test", people.org_a), ("bob@a.test", people.org_a), ("lena@a.test", people.org_a),
                       ("mona@a.test", people.org_a), ("dev@a.test", people.org_a), ("charlie@b.test", people.org_b)):
        async with store.unit_of_work(Principal.org_admin(org)) as uow:
            user = await users.get_user(uow, email)
        found[email.split("@")[0]] = (await app.state.ctx.accounts.sign_in_user(user, "test")).access_token
    return found


async def saved(api, token: str, layout: dict = LAYOUT) -> dict:
    response = await api.post("/api/dashboards", json=layout, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


def names(answer) -> list[str]:
    return [item["name"] for item in answer.json()["items"]]


@pytest.mark.parametrize("layout, field, words", [
    (with_widget(measures=["cost_usd", "no_such_measure"]), "widgets.1.measures.1", "unknown measure 'no_such_measure'"),
    (with_widget(group_by=["colour"]), "widgets.1.group_by.0", "unknown dimension 'colour'"),
    (with_widget(filters={"planet": ["mars"]}), "widgets.1.filters.planet", "unknown dimension 'planet'"),
    (with_widget(filters={"day": ["2026-01-01"]}), "widgets.1.filters.day", "not a filter"),
    (with_widget(chart="line"), "widgets.1.group_by", "needs a time dimension first"),
    (with_widget(chart="pie", measures=["cost_usd", "sessions"]), "widgets.1.group_by", "one measure"),
    (with_widget(chart="donut"), "widgets.1.chart", "tiles"),
    (with_widget(x=8, w=6), "widgets.1", "x + w must be at most 12"),
    (with_widget(id="kpis"), "widgets.1.id", "used by another widget"),
    (with_widget(measures=[]), "widgets.1.measures", "at least 1"),
])
async def test_a_layout_outside_the_catalogue_is_refused_naming_the_field(api, tokens, layout, field, words):
    response = await api.post("/api/dashboards", json=layout, headers=bearer(tokens["alice"]))
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["field"]) == (422, "invalid", field)
    assert words in error["message"]
    assert names(await api.get("/api/dashboards", headers=bearer(tokens["alice"]))) == []  # nothing half-saved


async def test_the_organisations_labels_are_dimensions_too(api, tokens):
    created = await saved(api, tokens["bob"], with_widget(group_by=["department"]))
    assert created["widgets"][1]["group_by"] == ["department"]


async def test_save_change_reopen_and_delete_ones_own_layout(api, tokens):
    created = await saved(api, tokens["bob"])
    assert created["mine"] and created["widgets"][1]["filters"] == {"team": ["platform"]}
    moved = copy.deepcopy(LAYOUT["widgets"])
    moved[1].update(x=6, y=0, w=6, h=3)
    changed = await api.put(f"/api/dashboards/{created['id']}", json={"widgets": moved}, headers=bearer(tokens["bob"]))
    assert changed.status_code == 200 and changed.json()["name"] == "Cost watch"
    again = (await api.get(f"/api/dashboards/{created['id']}", headers=bearer(tokens["bob"]))).json()
    assert [(w["id"], w["x"], w["y"], w["w"], w["h"]) for w in again["widgets"]] == [
        ("kpis", 0, 0, 12, 2), ("models", 6, 0, 6, 3)]
    assert (await api.get("/api/dashboards/default", headers=bearer(tokens["bob"]))).json()["id"] == created["id"]
    deleted = await api.delete(f"/api/dashboards/{created['id']}", headers=bearer(tokens["bob"]))
    assert deleted.status_code == 200
    assert (await api.get(f"/api/dashboards/{created['id']}", headers=bearer(tokens["bob"]))).status_code == 404


async def test_nobody_else_opens_or_changes_a_personal_layout(api, tokens):
    created = await saved(api, tokens["alice"])
    for who in ("bob", "mona", "charlie"):
        path = f"/api/dashboards/{created['id']}"
        assert (await api.get(path, headers=bearer(tokens[who]))).status_code == 404, who
        assert (await api.put(path, json={"name": "mine now"}, headers=bearer(tokens[who]))).status_code == 404, who
        assert (await api.delete(path, headers=bearer(tokens[who]))).status_code == 404, who
        assert names(await api.get("/api/dashboards", headers=bearer(tokens[who]))) == [], who


async def test_a_lead_publishes_to_their_team_which_its_members_and_managers_see(api, tokens):
    created = await saved(api, tokens["lena"])
    published = await api.post(f"/api/dashboards/{created['id']}/publish", json={"to": "team", "team": "platform"},
                               headers=bearer(tokens["lena"]))
    assert published.status_code == 200 and published.json()["published_to"] == "team"
    bob = (await api.get("/api/dashboards", headers=bearer(tokens["bob"]))).json()
    assert [i["name"] for i in bob["items"]] == ["Cost watch"] and bob["default"]["id"] == created["id"]
    assert not bob["items"][0]["mine"]
    assert names(await api.get("/api/dashboards", headers=bearer(tokens["mona"]))) == ["Cost watch"]
    assert names(await api.get("/api/dashboards", headers=bearer(tokens["dev"]))) == []  # not in the team
    assert names(await api.get("/api/dashboards", headers=bearer(tokens["charlie"]))) == []
    changed = await api.put(f"/api/dashboards/{created['id']}", json={"name": "x"}, headers=bearer(tokens["bob"]))
    assert changed.status_code == 403 and "owner" in changed.json()["error"]["message"]
    withdrawn = await api.delete(f"/api/dashboards/{created['id']}/publish", headers=bearer(tokens["bob"]))
    assert withdrawn.status_code == 403


async def test_publishing_rules(api, tokens):
    lena, bob, mona = [await saved(api, tokens[w]) for w in ("lena", "bob", "mona")]
    org = {"to": "organization"}
    refused = [
        (tokens["lena"], lena, org),  # a lead publishes to their teams only
        (tokens["bob"], bob, {"to": "team", "team": "platform"}),  # a member is no lead
    ]
    for token, layout, where in refused:
        answer = await api.post(f"/api/dashboards/{layout['id']}/publish", json=where, headers=bearer(token))
        assert answer.status_code == 403, answer.text
    answer = await api.post(f"/api/dashboards/{mona['id']}/publish", json=org, headers=bearer(tokens["mona"]))
    assert answer.status_code == 200
    for who in ("alice", "bob", "dev", "lena"):
        assert mona["id"] in [i["id"] for i in (await api.get("/api/dashboards", headers=bearer(tokens[who]))).json()["items"]]
    assert (await api.get(f"/api/dashboards/{mona['id']}", headers=bearer(tokens["charlie"]))).status_code == 404
    no_team = await api.post(f"/api/dashboards/{mona['id']}/publish", json={"to": "team"}, headers=bearer(tokens["mona"]))
    assert (no_team.status_code, no_team.json()["error"]["field"]) == (422, "team")
    # An admin may withdraw any default.
    assert (await api.delete(f"/api/dashboards/{mona['id']}/publish", headers=bearer(tokens["alice"]))).status_code == 200
    assert names(await api.get("/api/dashboards", headers=bearer(tokens["dev"]))) == []


async def test_a_lead_who_stepped_down_no_longer_changes_the_team_default(api, app, store, people, tokens):
    created = await saved(api, tokens["lena"])
    await api.post(f"/api/dashboards/{created['id']}/publish", json={"to": "team", "team": "platform"},
                   headers=bearer(tokens["lena"]))
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await teams.add_member(uow, "platform", "lena@a.test", "member")
    answer = await api.put(f"/api/dashboards/{created['id']}", json={"name": "mine"}, headers=bearer(tokens["lena"]))
    assert answer.status_code == 403


@pytest.mark.parametrize("who, expected", [("alice", OVERVIEW), ("mona", OVERVIEW), ("lena", TEAM), ("bob", PERSONAL),
                                           ("dev", PERSONAL)])
async def test_with_nothing_saved_each_role_gets_its_built_in_layout(api, tokens, who, expected):
    default = (await api.get("/api/dashboards", headers=bearer(tokens[who]))).json()["default"]
    assert default["builtin"] and default["id"] is None and default["name"] == expected.name


def test_the_built_in_layouts_fit_the_catalogue():
    for layout in (OVERVIEW, TEAM, PERSONAL):
        check_widgets(layout.widgets, {})  # raises when one does not fit


async def test_a_key_without_a_person_has_no_dashboards(api, store, people):
    key = await make_key(store, people.org_a, ["read"])
    answer = await api.get("/api/dashboards", headers=bearer(key))
    assert answer.status_code == 403 and "belong to a person" in answer.json()["error"]["message"]


async def test_the_pages_show_the_list_and_the_layout(api, tokens):
    created = await saved(api, tokens["bob"])
    listed = await api.get("/dashboards", headers={**bearer(tokens["bob"]), "accept": "text/html"})
    assert listed.status_code == 200 and f'data-dashboard-link="{created["id"]}"' in listed.text
    page = await api.get(f"/dashboards/{created['id']}", headers={**bearer(tokens["bob"]), "accept": "text/html"})
    assert page.status_code == 200 and 'id="fm-dashboard"' in page.text and "Cost by model" in page.text
    other = await api.get(f"/dashboards/{created['id']}", headers={**bearer(tokens["charlie"]), "accept": "text/html"})
    assert other.status_code == 404


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_row_level_security_keeps_dashboards_in_their_organisation(api, tokens, pg_migrated, people):
    await saved(api, tokens["alice"])
    _owner, app_url = pg_migrated
    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT count(*) FROM dashboards").fetchone()[0] == 0  # nothing bound: nothing read
        conn.execute("SELECT set_config('app.current_organization_id', %s, true)", (str(people.org_b),))
        assert conn.execute("SELECT count(*) FROM dashboards WHERE organization_id = %s",
                            (people.org_a,)).fetchone()[0] == 0
        forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                              "WHERE relname = 'dashboards'").fetchone()[0]
    assert forced
