"""The administration pages in-process (httpx, SQLite and PostgreSQL): who may open them, every
form through the services (the REST API sees the result), errors next to their field, CSRF,
the audit trail; invitations received by a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlsplit

import pytest
from starlette.routing import Route

from admin_support import HTML, csrf_of, field_error, link_in, smtp_server
from rest_support import app_for, client_of
from test_pages import PASSWORD, sign_in, signed_up  # noqa: F401 (a fixture)
from test_sso import node, oidc_provider  # noqa: F401 (fixtures: a real OpenID provider)
from fortium_metrics import audit, teams
from fortium_metrics.hooks import _MAPPERS
from fortium_metrics.pagination import PageQuery
from fortium_metrics.principal import Principal
from fortium_metrics.web.pages.admin_common import TABS
from fortium_metrics.web.pages.admin_snippets import snippets

pytestmark = pytest.mark.anyio
ADMIN_PAGES = [tab.path for tab in TABS] + ["/admin", "/admin/audit.csv"]


async def admin(api, people):
    assert (await sign_in(api, people)).status_code == 303
    return api


async def post(api, path: str, data: dict, page: str | None = None):
    token = api.cookies.get("fm_csrf") or csrf_of((await api.get(page or path, headers=HTML)).text)
    return await api.post(path, data={**data, "csrf_token": token}, headers=HTML)


async def audited(store, people, action: str) -> list:
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        return (await audit.search(uow, PageQuery(limit=100), action=action))[0]


async def test_a_developer_is_refused_every_admin_page_and_a_stranger_sent_to_sign_in(api, signed_up):
    for path in ADMIN_PAGES:
        response = await api.get(path, headers=HTML)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    await sign_in(api, signed_up, "bob@a.test")
    for path in ADMIN_PAGES:
        assert (await api.get(path, headers=HTML)).status_code == 403, path
    refused = await api.post("/admin/users", data={"email": "x@a.test", "password": PASSWORD,
                                                   "csrf_token": api.cookies["fm_csrf"]}, headers=HTML)
    assert refused.status_code == 403
    connect = await api.get("/connect", headers=HTML)  # for everyone
    assert connect.status_code == 200 and "Connect Claude Code" in connect.text
    assert 'data-nav="admin"' not in connect.text and 'data-nav="connect"' in connect.text


async def test_admin_goes_to_the_first_tab_and_sees_every_tab(api, signed_up):
    await admin(api, signed_up)
    response = await api.get("/admin", headers=HTML)
    assert response.status_code == 303 and response.headers["location"] == "/admin/users"
    page = (await api.get("/admin/users", headers=HTML)).text
    assert re.findall(r'data-tab="([a-z]+)"', page) == [tab.key for tab in TABS]
    assert 'id="fm-context"' not in page and "filter-bar" not in page  # no dashboard filters here


async def test_create_a_user_with_a_password_then_they_sign_in(api, signed_up, store):
    await admin(api, signed_up)
    created = await post(api, "/admin/users", {"email": "Dana@A.test", "name": "Dana", "role": "manager",
                                               "password": "a long enough password"})
    assert created.status_code == 303 and "dana%40a.test" in created.headers["location"]
    listed = (await api.get("/api/users?q=dana")).json()["items"]
    assert [(u["email"], u["role"]) for u in listed] == [("dana@a.test", "manager")]
    assert [e.target for e in await audited(store, signed_up, "user.create")][:1] == ["dana@a.test"]
    api.cookies.clear()
    assert (await sign_in(api, signed_up, "dana@a.test", "a long enough password")).status_code == 303


async def test_errors_are_shown_next_to_their_field_and_nothing_is_kept(api, signed_up):
    await admin(api, signed_up)
    short = await post(api, "/admin/users", {"email": "eve@a.test", "password": "short"})
    assert short.status_code == 422 and "at least 12 characters" in field_error(short.text, "create-password").lower()
    assert 'value="eve@a.test"' in short.text and 'value="short"' not in short.text
    assert (await api.get("/api/users?q=eve")).json()["total"] == 0  # rolled back with the error
    taken = await post(api, "/admin/users", {"email": "bob@a.test", "password": PASSWORD})
    assert taken.status_code == 409 and "already exists" in field_error(taken.text, "create-email")
    bad = await post(api, "/admin/users/invite", {"email": "not-an-address"})
    assert bad.status_code == 422 and "not a valid e-mail address" in field_error(bad.text, "invite-email")


async def test_a_form_without_its_token_changes_nothing(api, signed_up):
    await admin(api, signed_up)
    response = await api.post("/admin/users", data={"email": "mallory@a.test", "password": PASSWORD}, headers=HTML)
    assert response.status_code == 403 and "expired" in response.text
    assert (await api.get("/api/users?q=mallory")).json()["total"] == 0


async def test_users_are_searched_filtered_and_paged(api, signed_up, store):
    async with store.unit_of_work(Principal.org_admin(signed_up.org_a)) as uow:
        from fortium_metrics import users
        for number in range(30):
            await users.create_user(uow, f"p{number:02d}@a.test", f"Person {number}")
        await teams.create_team(uow, "Payments")
        await teams.add_member(uow, "payments", "p07@a.test")
    await admin(api, signed_up)
    first = (await api.get("/admin/users", headers=HTML)).text
    assert first.count("data-person=") == 25 and "32 in all · page 1 of 2" in first
    second = (await api.get("/admin/users?page=2", headers=HTML)).text
    assert second.count("data-person=") == 7
    assert re.findall(r'data-person="([^"]+)"', (await api.get("/admin/users?team=payments", headers=HTML)).text) == ["p07@a.test"]
    assert re.findall(r'data-person="([^"]+)"', (await api.get("/admin/users?role=admin", headers=HTML)).text) == ["alice@a.test"]
    assert re.findall(r'data-person="([^"]+)"', (await api.get("/admin/users?q=Person+1", headers=HTML)).text)[:2] == ["p01@a.test", "p10@a.test"]


async def test_role_deactivation_and_password_reset_through_the_services(api, signed_up, store):
    await admin(api, signed_up)
    bob = (await api.get("/api/users?q=bob")).json()["items"][0]["id"]
    page = f"/admin/users/{bob}"
    assert (await post(api, f"{page}/role", {"role": "manager"}, page)).status_code == 303
    assert (await post(api, f"{page}/active", {"active": "0"}, page)).status_code == 303
    bob_now = (await api.get("/api/users?q=bob")).json()["items"][0]
    assert (bob_now["role"], bob_now["active"]) == ("manager", False)
    assert (await post(api, f"{page}/active", {"active": "1"}, page)).status_code == 303
    reset = await post(api, f"{page}/password", {"password": "another long password"}, page)
    assert reset.status_code == 303 and "sessions were ended" in (await api.get(reset.headers["location"], headers=HTML)).text
    actions = {e.action for e in await audited(store, signed_up, "user.*")}
    assert {"user.role", "user.deactivate", "user.reactivate", "user.password"} <= actions
    me = (await api.get("/api/users?q=alice")).json()["items"][0]["id"]
    yourself = await post(api, f"/admin/users/{me}/active", {"active": "0"}, f"/admin/users/{me}")
    # Alice is the only administrator: the last-admin rule answers first (409), on the form.
    assert yourself.status_code == 409 and "last active administrator" in yourself.text


async def test_an_invitation_arrives_by_mail_works_once_and_signs_in(store, backend, tmp_path, signed_up):
    with smtp_server() as (host, port, inbox):
        async with app_for(store, backend, tmp_path, smtp_host=host, smtp_port=port, smtp_security="none",
                           smtp_from="Metrics <metrics@a.test>", public_url="https://metrics.a.test") as app:
            async with client_of(app) as api:
                await admin(api, signed_up)
                sent = await post(api, "/admin/users/invite", {"email": "newbie@a.test", "name": "New", "role": "developer"})
                assert sent.status_code == 303
                assert "newbie@a.test" in (await api.get("/admin/users", headers=HTML)).text  # pending
                [mail] = inbox.messages
                assert mail["To"] == "newbie@a.test" and mail["From"] == "Metrics <metrics@a.test>"
                link = link_in(mail)
                assert link.startswith("https://metrics.a.test/invite/fmi_")
                path = urlsplit(link).path
                api.cookies.clear()
                form = await api.get(path, headers=HTML)
                assert form.status_code == 200 and "newbie@a.test" in form.text and "Org A" in form.text
                differ = await api.post(path, data={"password": PASSWORD, "confirm": "something else!",
                                                    "csrf_token": csrf_of(form.text)})
                assert differ.status_code == 422 and field_error(differ.text, "confirm")
                weak = await api.post(path, data={"password": "short", "confirm": "short", "csrf_token": csrf_of(form.text)})
                assert weak.status_code == 422 and "12 characters" in field_error(weak.text, "password")
                done = await api.post(path, data={"name": "Newbie", "password": PASSWORD, "confirm": PASSWORD,
                                                  "csrf_token": csrf_of(form.text)})
                assert done.status_code == 303 and done.headers["location"].startswith("/connect")
                assert "Newbie" in (await api.get("/connect", headers=HTML)).text  # signed in
                assert (await api.get(path, headers=HTML)).status_code == 404  # once only
    assert {"user.invite", "user.invite.accept"} <= {e.action for e in await audited(store, signed_up, "user.*")}


async def test_without_smtp_the_invitation_link_is_shown_and_a_failing_server_keeps_nothing(api, signed_up, store,
                                                                                            backend, tmp_path):
    await admin(api, signed_up)
    shown = await post(api, "/admin/users/invite", {"email": "hand@a.test"})
    assert shown.status_code == 200 and re.search(r'value="http://testserver/invite/fmi_[^"]+"', shown.text)
    async with app_for(store, backend, tmp_path, smtp_host="127.0.0.1", smtp_port=9, smtp_security="none",
                       smtp_timeout_seconds=2) as app:  # nothing listens on port 9 (discard)
        async with client_of(app) as other:
            await admin(other, signed_up)
            failed = await post(other, "/admin/users/invite", {"email": "lost@a.test"})
            assert failed.status_code == 502 and "could not be sent" in failed.text
            assert "lost@a.test" not in (await other.get("/admin/users", headers=HTML)).text.split("Pending")[-1]


async def test_teams_created_renamed_archived_and_staffed(api, signed_up, store):
    await admin(api, signed_up)
    created = await post(api, "/admin/teams", {"name": "Platform Core"})
    assert created.status_code == 303 and created.headers["location"].startswith("/admin/teams/platform-core")
    page = "/admin/teams/platform-core"
    assert (await post(api, f"{page}/members", {"user": "bob@a.test", "role": "member"}, page)).status_code == 303
    assert (await post(api, f"{page}/members", {"user": "bob@a.test", "role": "lead"}, page)).status_code == 303
    assert (await api.get("/api/teams/platform-core/members")).json() == [{"email": "bob@a.test", "role": "lead"}]
    nobody = await post(api, f"{page}/members", {"user": ""}, page)
    assert nobody.status_code == 422 and field_error(nobody.text, "member-user")
    assert (await post(api, f"{page}/rename", {"name": "Platform", "description": "Infra"}, page)).status_code == 303
    assert (await post(api, f"{page}/archive", {"archived": "1"}, page)).status_code == 303
    assert "Archived" in (await api.get(page, headers=HTML)).text
    assert (await post(api, f"{page}/members/remove", {"user": "bob@a.test"}, page)).status_code == 303
    assert (await api.get("/api/teams/platform-core/members")).json() == []
    actions = [e.action for e in await audited(store, signed_up, "team.*")]
    assert {"team.create", "team.member", "team.update", "team.archive", "team.member.remove"} <= set(actions)
    empty = await post(api, "/admin/teams", {"name": "  "})
    assert empty.status_code == 422 and field_error(empty.text, "create-name")


async def test_a_new_key_shows_its_secret_and_snippets_once(api, signed_up, store):
    await admin(api, signed_up)
    created = await post(api, "/admin/keys", {"name": "ci uploader", "scopes": ["ingest"]})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-secret" class="code" readonly value="(fmk_[^"]+)"', created.text).group(1)
    assert secret in created.text.split('id="new-settings"')[1]  # settings.json carries the key
    assert "http://testserver/mcp" in created.text and "http://testserver/sse" in created.text
    listed = (await api.get("/admin/keys", headers=HTML)).text
    assert secret not in listed and "ci uploader" in listed
    keys = (await api.get("/api/keys")).json()
    key = next(k for k in keys if k["name"] == "ci uploader")
    assert key["scopes"] == ["ingest"]
    worked = await api.post("/api/v1/metrics/batch", json={"events": []}, headers={"authorization": f"Bearer {secret}"})
    assert worked.status_code != 401
    assert (await post(api, f"/admin/keys/{key['id']}/revoke", {}, "/admin/keys")).status_code == 303
    assert next(k for k in (await api.get("/api/keys")).json() if k["name"] == "ci uploader")["revoked_at"]
    unnamed = await post(api, "/admin/keys", {"name": ""})
    assert unnamed.status_code == 422 and field_error(unnamed.text, "create-name")


async def test_settings_change_is_saved_and_audited_and_errors_named(api, signed_up, store):
    await admin(api, signed_up)
    saved = await post(api, "/admin/settings", {"name": "Org A", "timezone": "Europe/Berlin",
                                                "data_retention_days": "90", "min_group_size": "5",
                                                "unknown_users": "create"})
    assert saved.status_code == 303
    org = (await api.get("/api/org")).json()
    assert (org["data_retention_days"], org["settings"]["timezone"], org["settings"]["min_group_size"]) == (90, "Europe/Berlin", 5)
    [entry] = (await audited(store, signed_up, "org.settings"))[:1]
    assert entry.details["data_retention_days"] == {"old": 365, "new": 90}
    bad_zone = await post(api, "/admin/settings", {"name": "Org A", "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "iana time zone" in field_error(bad_zone.text, "settings-timezone")
    bad_days = await post(api, "/admin/settings", {"name": "Org A", "data_retention_days": "99999"})
    assert bad_days.status_code == 422 and "between 1 and 3650" in field_error(bad_days.text, "settings-data_retention_days").lower()
    assert (await api.get("/api/org")).json()["data_retention_days"] == 90


async def test_projects_are_created_and_archived(api, signed_up):
    await admin(api, signed_up)
    assert (await post(api, "/admin/projects", {"name": "web-app", "repository_url": "https://git.a.test/web"})).status_code == 303
    project = (await api.get("/api/projects")).json()["items"][0]
    assert (await post(api, f"/admin/projects/{project['id']}", {"team": "", "status": "archived"},
                       "/admin/projects")).status_code == 303
    assert (await api.get(f"/api/projects/{project['id']}")).json()["status"] == "archived"
    again = await post(api, "/admin/projects", {"name": "web-app"})
    assert again.status_code == 409 and field_error(again.text, "create-name")


async def test_audit_log_is_filtered_and_exported(api, signed_up, store):
    await admin(api, signed_up)
    await post(api, "/admin/teams", {"name": "Alpha"})
    await post(api, "/admin/teams", {"name": "Beta"})
    page = (await api.get("/admin/audit?action=team.create&target=alp", headers=HTML)).text
    assert re.findall(r'data-action="([^"]+)"', page) == ["team.create"] and "alpha" in page
    family = (await api.get("/admin/audit?action=team.*", headers=HTML)).text
    assert family.count('data-action="team.create"') == 2
    by_actor = (await api.get("/admin/audit?actor=ALICE", headers=HTML)).text
    assert 'data-action="login"' in by_actor
    assert 'data-action="' not in (await api.get("/admin/audit?actor=nobody", headers=HTML)).text
    future = (await api.get("/admin/audit?since=2999-01-01", headers=HTML)).text
    assert 'data-action="' not in future
    wrong = await api.get("/admin/audit?since=yesterday", headers=HTML)
    assert wrong.status_code == 422 and "a date such as" in field_error(wrong.text, "audit-since")
    exported = await api.get("/admin/audit.csv?action=team.create")
    assert exported.headers["content-type"].startswith("text/csv") and "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["target"] for r in rows) == ["alpha", "beta"] and {r["actor"] for r in rows} == {"alice@a.test"}


async def test_connect_page_makes_an_own_key_and_reports_the_first_event(api, signed_up):
    await sign_in(api, signed_up, "bob@a.test")
    page = (await api.get("/connect", headers=HTML)).text
    assert 'data-check-state="waiting"' in page
    made = await post(api, "/connect/keys", {"name": "work laptop"}, "/connect")
    secret = re.search(r'id="new-secret" class="code" readonly value="(fmk_[^"]+)"', made.text).group(1)
    keys = re.findall(r"fmk_([a-z0-9]{10})_…", made.text)
    assert made.status_code == 200 and len(keys) == 1
    sent = await api.post("/api/v1/metrics/batch", headers={"authorization": f"Bearer {secret}"}, json={
        "events": [{"type": "session_start", "session_id": "s-connect-1", "timestamp": "2026-12-01T10:00:00Z"}]})
    assert sent.status_code in (200, 201, 202) and sent.json().get("accepted", 1) == 1, sent.text
    checked = (await api.get("/connect", headers=HTML)).text
    assert 'data-check-state="ok"' in checked and "2026-12-01 10:00 UTC" in checked
    assert secret not in checked


def test_snippets_name_real_events_commands_and_routes(tmp_path):
    from fortium_metrics.app import create_app
    from fortium_metrics.cli import main
    from fortium_metrics.config import load_settings

    paths = {r.path for r in create_app(load_settings(data_dir=tmp_path)).routes if isinstance(r, Route)}
    made = snippets("https://metrics.example.com/", "fmk_abcdefghij_" + "x" * 40)
    settings = json.loads(made.settings_json)
    for event, groups in settings["hooks"].items():
        assert event in _MAPPERS
        command = groups[0]["hooks"][0]["command"].split()
        assert command[0] == "fortium-metrics" and command[1] in main.commands
    assert settings["env"]["OTEL_EXPORTER_OTLP_HEADERS"] == "Authorization=Bearer fmk_abcdefghij_" + "x" * 40
    servers = json.loads(made.mcp_json)["mcpServers"]
    assert {s["type"] for s in servers.values()} == {"stdio", "http", "sse"}
    for server in servers.values():
        if "url" in server:
            assert server["url"].startswith("https://metrics.example.com/") and urlsplit(server["url"]).path in paths
    assert "fmk_" not in made.mcp_json  # .mcp.json is committed to repositories: the key stays in the environment


async def test_sso_is_configured_and_its_connection_tested_against_a_real_provider(api, signed_up, store, oidc_provider):
    await admin(api, signed_up)
    saved = await post(api, "/admin/sso", {"issuer": oidc_provider.issuer, "client_id": "fortium", "client_secret": "s3cret",
                                           "scopes": "openid email profile", "default_role": "developer", "jit": "1"})
    assert saved.status_code == 303
    page = (await api.get("/admin/sso", headers=HTML)).text
    assert f'value="{oidc_provider.issuer}"' in page and "s3cret" not in page
    tested = await post(api, "/admin/sso/test", {"issuer": oidc_provider.issuer})
    assert tested.status_code == 200 and 'data-sso-test="ok"' in tested.text
    assert f"{oidc_provider.issuer}/auth" in tested.text  # from the discovery document
    unreachable = await post(api, "/admin/sso/test", {"issuer": "http://127.0.0.1:9"})
    assert 'data-sso-test="failed"' in unreachable.text and "unreachable" in unreachable.text
    kept = await post(api, "/admin/sso", {"issuer": oidc_provider.issuer, "client_id": "fortium2", "client_secret": ""})
    assert kept.status_code == 303  # an empty secret keeps the stored one
    bad = await post(api, "/admin/sso", {"issuer": "ftp://idp", "client_id": "x", "client_secret": "y"})
    assert bad.status_code == 422 and "issuer" in field_error(bad.text, "sso-issuer")
    assert {"sso.configure"} <= {e.action for e in await audited(store, signed_up, "sso.*")}
    assert (await post(api, "/admin/sso/remove", {}, "/admin/sso")).status_code == 303
    assert 'badge off">Off' in (await api.get("/admin/sso", headers=HTML)).text
