"""`user` and `team` on the command line: passwords, sign-in, deactivation, teams, --json; on
SQLite and PostgreSQL. The checks go through the services and the sign-in path, not the CLI's
own words."""
from __future__ import annotations

import json
import uuid

import pytest

from cli_support import app_of, cli, in_org, unique_slug  # noqa: F401  (fixtures)
from fortium_metrics import audit, users
from fortium_metrics.errors import Unauthorized
from fortium_metrics.principal import ROLES
from fortium_metrics.web.admin_api import TeamOut, UserOut

PASSWORD = "correct horse battery staple"


@pytest.fixture
def org(cli) -> str:
    slug = unique_slug()
    assert cli("org", "create", "Acme", "--slug", slug).exit_code == 0
    return slug


def sign_in(app_of, email: str, password: str, slug: str):
    return app_of(lambda app: app.accounts.login(email, password, "127.0.0.1", slug))


def audit_actions(app_of, slug: str) -> list[tuple[str, str, str]]:
    entries = app_of(lambda app: in_org(app, slug, audit.list_entries))
    return [(e.action, e.actor, e.target) for e in reversed(entries)]


def test_a_user_created_with_a_password_from_stdin_can_sign_in(cli, app_of, org):
    created = cli("user", "create", "--org", org, "--email", "alice@acme.test", "--role", "admin", "--password-stdin",
                  input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    pair = sign_in(app_of, "alice@acme.test", PASSWORD, org)
    assert pair.role == "admin"
    assert ("user.password", "cli", "alice@acme.test") in audit_actions(app_of, org)


def test_user_create_asks_for_the_password_twice_hidden(cli, app_of, org):
    created = cli("user", "create", "--org", org, "--email", "dana@acme.test", "--password-prompt",
                  input=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.exit_code == 0, created.output
    assert PASSWORD not in created.output  # hidden input is not echoed
    assert sign_in(app_of, "dana@acme.test", PASSWORD, org).role == "developer"


def test_set_password_asks_again_when_the_two_entries_differ(cli, app_of, org):
    assert cli("user", "create", "--org", org, "--email", "bob@acme.test").exit_code == 0
    result = cli("user", "set-password", "bob@acme.test", "--org", org,
                 input=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output and PASSWORD not in result.output
    assert sign_in(app_of, "bob@acme.test", PASSWORD, org).role == "developer"


@pytest.mark.parametrize("password, reason", [("short", "password: at least 12 characters"),
                                              ("x" * 1025, "password: at most 1024 characters")])
def test_the_password_policy_of_the_rest_api_applies_and_a_refused_password_creates_nobody(cli, app_of, org, password, reason):
    created = cli("user", "create", "--org", org, "--email", "eve@acme.test", "--password-stdin", input=password + "\n")
    assert created.exit_code == 1 and reason in created.output
    listed = app_of(lambda app: in_org(app, org, users.list_users))
    assert "eve@acme.test" not in {u.email for u in listed}
    assert cli("user", "create", "--org", org, "--email", "eve@acme.test").exit_code == 0
    refused = cli("user", "set-password", "eve@acme.test", "--org", org, "--password-stdin", input=password + "\n")
    assert refused.exit_code == 1 and reason in refused.output


def test_setting_a_password_ends_the_users_sessions(cli, app_of, org):
    cli("user", "create", "--org", org, "--email", "bob@acme.test", "--password-stdin", input=PASSWORD + "\n")
    pair = sign_in(app_of, "bob@acme.test", PASSWORD, org)
    assert app_of(lambda app: app.accounts.principal_for_access_token(pair.access_token)).user_id == pair.user_id
    changed = cli("user", "set-password", "bob@acme.test", "--org", org, "--password-stdin", input="a brand new password\n")
    assert changed.exit_code == 0, changed.output
    with pytest.raises(Unauthorized):
        app_of(lambda app: app.accounts.principal_for_access_token(pair.access_token))
    with pytest.raises(Unauthorized):
        app_of(lambda app: app.accounts.refresh(pair.refresh_token))
    with pytest.raises(Unauthorized):
        sign_in(app_of, "bob@acme.test", PASSWORD, org)
    assert sign_in(app_of, "bob@acme.test", "a brand new password", org).user_id == pair.user_id


def test_set_password_for_someone_unknown_is_not_found(cli, org):
    result = cli("user", "set-password", "ghost@acme.test", "--org", org, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and "user: no user 'ghost@acme.test'" in result.output


def test_prompt_and_stdin_together_are_refused(cli, org):
    result = cli("user", "create", "--org", org, "--email", "x@acme.test", "--password-prompt", "--password-stdin")
    assert result.exit_code == 2 and "choose one" in result.output


def test_deactivated_users_cannot_sign_in_until_reactivated(cli, app_of, org):
    cli("user", "create", "--org", org, "--email", "bob@acme.test", "--password-stdin", input=PASSWORD + "\n")
    assert cli("user", "deactivate", "bob@acme.test", "--org", org).exit_code == 0
    assert json.loads(cli("user", "show", "bob@acme.test", "--org", org, "--json").stdout)["active"] is False
    with pytest.raises(Unauthorized):
        sign_in(app_of, "bob@acme.test", PASSWORD, org)
    assert cli("user", "reactivate", "bob@acme.test", "--org", org).exit_code == 0
    assert sign_in(app_of, "bob@acme.test", PASSWORD, org).role == "developer"
    actions = [a for a, _, target in audit_actions(app_of, org) if target == "bob@acme.test" and a.startswith("user.")]
    assert actions[-2:] == ["user.deactivate", "user.reactivate"]


def test_user_list_and_show_json_use_the_rest_apis_keys_and_whole_ids(cli, app_of, org):
    for email in ("alice@acme.test", "bob@acme.test"):
        cli("user", "create", "--org", org, "--email", email, "--role", "admin" if email.startswith("a") else "developer")
    listed = json.loads(cli("user", "list", "--org", org, "--json").stdout)
    stored = {u.email: u for u in app_of(lambda app: in_org(app, org, users.list_users))}
    assert [u["email"] for u in listed] == sorted(stored)
    for row in listed:
        assert list(row) == list(UserOut.model_fields)
        assert row["id"] == str(stored[row["email"]].id) and row["role"] == stored[row["email"]].role
    cli("team", "create", "--org", org, "Platform")
    cli("team", "add-member", "--org", org, "platform", "bob@acme.test", "--role", "lead")
    shown = json.loads(cli("user", "show", str(stored["bob@acme.test"].id), "--org", org, "--json").stdout)
    assert shown["email"] == "bob@acme.test" and shown["has_password"] is False
    assert [(t["slug"], t["role"]) for t in shown["teams"]] == [("platform", "lead")]


def test_teams_are_listed_shown_and_members_removed(cli, app_of, org):
    for email in ("alice@acme.test", "bob@acme.test"):
        cli("user", "create", "--org", org, "--email", email)
    for name in ("Platform", "Data"):
        assert cli("team", "create", "--org", org, name, "--description", f"the {name} team").exit_code == 0
    cli("team", "add-member", "--org", org, "platform", "alice@acme.test", "--role", "lead")
    cli("team", "add-member", "--org", org, "platform", "bob@acme.test")
    listed = json.loads(cli("team", "list", "--org", org, "--json").stdout)
    assert [t["slug"] for t in listed] == ["data", "platform"] and all(list(t) == list(TeamOut.model_fields) for t in listed)
    platform_id = next(t["id"] for t in listed if t["slug"] == "platform")
    shown = json.loads(cli("team", "show", "--org", org, platform_id, "--json").stdout)
    assert shown["slug"] == "platform" and shown["description"] == "the Platform team"
    assert [(m["email"], m["role"]) for m in shown["members"]] == [("alice@acme.test", "lead"), ("bob@acme.test", "member")]
    assert all(uuid.UUID(m["user_id"]) for m in shown["members"])
    removed = cli("team", "remove-member", "--org", org, "platform", "bob@acme.test")
    assert removed.exit_code == 0, removed.output
    shown = json.loads(cli("team", "show", "--org", org, "platform", "--json").stdout)
    assert [m["email"] for m in shown["members"]] == ["alice@acme.test"]
    again = cli("team", "remove-member", "--org", org, "platform", "bob@acme.test")
    assert again.exit_code == 1 and "bob@acme.test is not a member of team 'platform'" in again.output
    assert ("team.member.remove", "cli", "platform") in audit_actions(app_of, org)
    assert cli("user", "show", "bob@acme.test", "--org", org).exit_code == 0  # the account stays


def test_another_organisations_people_and_teams_are_not_found(cli, org):
    other = unique_slug("other")
    cli("org", "create", "Other", "--slug", other)
    cli("user", "create", "--org", other, "--email", "charlie@other.test")
    cli("team", "create", "--org", other, "Secret")
    for args in (("user", "show", "charlie@other.test"), ("user", "deactivate", "charlie@other.test"),
                 ("team", "show", "secret"), ("team", "remove-member", "secret", "charlie@other.test")):
        result = cli(*args, "--org", org)
        assert result.exit_code == 1 and "in this organisation" in result.output, args
    assert "charlie" not in cli("user", "list", "--org", org, "--json").stdout


def test_role_help_names_each_role_and_what_it_may_do(cli):
    helps = " ".join(cli("user", "create", "-h").output.split())
    for role in ROLES:
        assert f"{role}:" in helps
    team_help = " ".join(cli("team", "add-member", "-h").output.split())
    assert "lead:" in team_help and "member:" in team_help
