"""`org list|rename|delete` on SQLite and PostgreSQL (there in the RLS system scope): deleting
organisation A removes every row A owns, in every tenant table, and nothing of B's."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import create_engine, func, inspect, select

from cli_support import app_of, as_operator, cli, in_org, unique_slug  # noqa: F401  (fixtures)
from fortium_metrics import apikeys, audit, orgs, projects, teams, users
from fortium_metrics.accounts import ROLE_SCOPES, set_password
from fortium_metrics.ingest import record_events
from fortium_metrics.principal import Principal
from fortium_metrics.store.engine import sync_url
from fortium_metrics.store.models import TENANT_TABLES, Base
from fortium_metrics.web.admin_api import OrgOut

PASSWORD = "correct horse battery staple"
SEEDED = ("users", "teams", "team_memberships", "projects", "api_keys", "audit_log", "sessions", "metric_events",
          "event_keys", "refresh_tokens")


async def seed(app, slug: str, email: str) -> uuid.UUID:
    """An organisation with a person, a team, a project, a key, a signed-in session and events."""
    org = await as_operator(app, lambda uow: orgs.create_organization(uow, slug, slug))

    async def people(uow):
        user = await users.create_user(uow, email, "Someone", "admin")
        await set_password(uow, email, PASSWORD)
        await teams.create_team(uow, "Platform")
        await teams.add_member(uow, "platform", email, "lead")
        await projects.create_project(uow, "web")
        await apikeys.create_api_key(uow, "laptop", ["ingest"], email)
        return user

    user = await in_org(app, slug, people)
    await app.accounts.login(email, PASSWORD, "127.0.0.1", slug)
    principal = Principal(org.id, user.id, "admin", ROLE_SCOPES["admin"], "user", email)
    result = await record_events(app.ingestor, principal, [
        {"type": "session_start", "session_id": f"s-{slug}"},
        {"type": "tool_execution", "tool_name": "Read", "session_id": f"s-{slug}"}], "test")
    assert result.accepted == 2
    return org.id


async def rows_per_table(app, org_id: uuid.UUID) -> dict[str, int]:
    async def count(uow):
        found = {}
        for name in TENANT_TABLES:
            table = Base.metadata.tables[name]
            found[name] = await uow.session.scalar(select(func.count()).select_from(table).where(table.c.organization_id == org_id))
        return found

    return await as_operator(app, count)


def test_deleting_organisation_a_removes_all_of_its_data_and_none_of_bs(cli, app_of):
    slug_a, slug_b = unique_slug("org-a"), unique_slug("org-b")
    org_a = app_of(lambda app: seed(app, slug_a, "alice@a.test"))
    org_b = app_of(lambda app: seed(app, slug_b, "charlie@b.test"))
    before_a = app_of(lambda app: rows_per_table(app, org_a))
    before_b = app_of(lambda app: rows_per_table(app, org_b))
    assert all(before_a[table] > 0 for table in SEEDED), before_a

    deleted = cli("org", "delete", slug_a, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert app_of(lambda app: rows_per_table(app, org_a)) == {table: 0 for table in TENANT_TABLES}
    assert app_of(lambda app: rows_per_table(app, org_b)) == before_b
    listed = {o["slug"] for o in json.loads(cli("org", "list", "--json").stdout)}
    assert slug_b in listed and slug_a not in listed
    assert cli("user", "list", "--org", slug_a).exit_code == 1
    assert "charlie@b.test" in cli("user", "list", "--org", slug_b).stdout
    # B's people still sign in; B's audit log is intact.
    assert app_of(lambda app: app.accounts.login("charlie@b.test", PASSWORD, "127.0.0.1", slug_b)).role == "admin"


def test_org_delete_asks_for_the_slug_and_keeps_everything_on_a_mismatch(cli, app_of):
    slug = unique_slug()
    cli("org", "create", "Acme", "--slug", slug)
    cli("user", "create", "--org", slug, "--email", "alice@acme.test")
    refused = cli("org", "delete", slug, input="acme\n")
    assert refused.exit_code == 1 and "not deleted" in refused.output
    assert "alice@acme.test" in cli("user", "list", "--org", slug).stdout
    confirmed = cli("org", "delete", slug, input=f"{slug}\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert slug not in cli("org", "list").stdout


def test_deleting_an_unknown_organisation_is_not_found(cli):
    result = cli("org", "delete", "no-such-org", "--yes")
    assert result.exit_code == 1 and "no organisation with slug 'no-such-org'" in result.output


def test_every_tenant_table_goes_with_its_organisation(backend):
    """The schema half of the deletion: a tenant table either has ON DELETE CASCADE to
    organizations or is one orgs.delete_organization empties itself (a new table that has
    neither would keep a deleted organisation's rows)."""
    engine = create_engine(sync_url(backend.owner_url))
    try:
        inspector = inspect(engine)
        explicit = {model.__tablename__ for model in orgs.NO_FOREIGN_KEY}
        for table in TENANT_TABLES:
            cascades = [fk for fk in inspector.get_foreign_keys(table) if fk["referred_table"] == "organizations"
                        and (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE"]
            assert bool(cascades) != (table in explicit), table
    finally:
        engine.dispose()


def test_org_list_json_and_rename(cli, app_of):
    slug, taken = unique_slug(), unique_slug("taken")
    cli("org", "create", "Acme", "--slug", slug)
    cli("org", "create", "Taken", "--slug", taken)
    listed = {o["slug"]: o for o in json.loads(cli("org", "list", "--json").stdout)}
    assert list(listed[slug]) == list(OrgOut.model_fields) and uuid.UUID(listed[slug]["id"])
    clash = cli("org", "rename", slug, "--slug", taken)
    assert clash.exit_code == 1 and "already exists" in clash.output
    assert cli("org", "rename", slug).exit_code == 1
    new_slug = unique_slug("acme-inc")
    renamed = cli("org", "rename", slug, "Acme Inc", "--slug", new_slug)
    assert renamed.exit_code == 0, renamed.output
    listed = {o["slug"]: o for o in json.loads(cli("org", "list", "--json").stdout)}
    assert slug not in listed and listed[new_slug]["name"] == "Acme Inc"
    assert listed[new_slug]["id"] == str(uuid.UUID(listed[new_slug]["id"]))
    entries = app_of(lambda app: in_org(app, new_slug, audit.list_entries))
    change = next(e for e in entries if e.action == "org.settings")
    assert change.details == {"name": {"old": "Acme", "new": "Acme Inc"}, "slug": {"old": slug, "new": new_slug}}


@pytest.mark.anyio
async def test_only_an_operator_renames_or_deletes_organisations(store, people):
    from fortium_metrics.errors import Forbidden

    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        with pytest.raises(Forbidden):
            await orgs.delete_organization(uow, people.slug_a)
        with pytest.raises(Forbidden):
            await orgs.rename_organization(uow, people.slug_a, "Mine")
