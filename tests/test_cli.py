"""The command line, on SQLite and PostgreSQL, through click's runner (same process)."""
from __future__ import annotations

import pytest

from cli_support import cli  # noqa: F401  (fixture)
from fortium_metrics.store import migrate


def _slug(request) -> str:
    import uuid

    return f"acme-{uuid.uuid4().hex[:6]}"


def test_org_user_team_apikey_flow(cli, request):
    slug = _slug(request)
    assert cli("org", "create", "Acme", "--slug", slug).exit_code == 0
    assert slug in cli("org", "list").output
    assert cli("user", "create", "--org", slug, "--email", "Alice@Acme.test", "--role", "admin").exit_code == 0
    assert "alice@acme.test" in cli("user", "list", "--org", slug).output
    assert cli("team", "create", "--org", slug, "Platform").exit_code == 0
    added = cli("team", "add-member", "--org", slug, "platform", "alice@acme.test", "--role", "lead")
    assert added.exit_code == 0, added.output
    created = cli("apikey", "create", "--org", slug, "--name", "laptop", "--scope", "ingest")
    assert created.exit_code == 0
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("fmk_")
    prefix = secret.split("_")[1]
    listed = cli("apikey", "list", "--org", slug).output
    assert prefix in listed and secret not in listed
    assert cli("apikey", "revoke", "--org", slug, prefix).exit_code == 0


@pytest.mark.parametrize("args, message", [
    (("user", "create", "--org", "no-such-org", "--email", "a@b.co"), "no organisation with slug 'no-such-org'"),
    (("org", "create", "Bad", "--slug", "Not A Slug!"), "slug:"),
    (("org", "create", "Bad", "--retention-days", "0"), "retention-days"),
])
def test_bad_input_exits_non_zero_with_a_clear_message(cli, args, message):
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output


def test_duplicate_slug_and_invalid_email_are_refused(cli, request):
    slug = _slug(request)
    assert cli("org", "create", "Acme", "--slug", slug).exit_code == 0
    again = cli("org", "create", "Acme", "--slug", slug)
    assert again.exit_code == 1 and "already exists" in again.output
    bad = cli("user", "create", "--org", slug, "--email", "not-an-email")
    assert bad.exit_code == 1 and "email: not a valid e-mail address" in bad.output
    dup_team = [cli("team", "create", "--org", slug, "Ops") for _ in range(2)]
    assert dup_team[1].exit_code == 1 and "already exists" in dup_team[1].output


def test_help_explains_every_command(cli):
    top = cli("--help")
    for command in ("serve", "db", "org", "user", "team", "apikey", "config", "jobs"):
        assert command in top.output
    for group, subs in {"db": ["upgrade", "downgrade", "current"], "apikey": ["create", "list", "revoke"],
                        "team": ["create", "add-member"]}.items():
        output = cli(group, "--help").output
        assert all(sub in output for sub in subs)


def test_db_current_reports_head(cli):
    head = migrate.head_revision()
    result = cli("db", "current")
    assert f"current: {head}" in result.output and f"head: {head}" in result.output


def test_bad_configuration_exits_2_naming_the_variable(cli, monkeypatch):
    monkeypatch.setenv("FORTIUM_PORT", "eighty")
    result = cli("config", "show")
    assert result.exit_code == 2 and "FORTIUM_PORT" in result.output


@pytest.mark.anyio
async def test_embedded_identity_without_git_falls_back_to_user_at_localhost(tmp_path, monkeypatch):
    from fortium_metrics import local
    from fortium_metrics.store.engine import create_engine
    from fortium_metrics.store.migrate import upgrade
    from fortium_metrics.store.uow import Store

    monkeypatch.setattr(local.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(OSError("no git")))
    assert local.local_email().endswith("@localhost")
    upgrade(f"sqlite:///{tmp_path / 'x.db'}")
    store = Store(create_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    principal = await local.ensure_local_principal(store)
    await store.dispose()
    assert principal.label.endswith("@localhost") and principal.role == "admin"
