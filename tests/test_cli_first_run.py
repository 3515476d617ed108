"""`serve` on a store where nobody can administer yet prints the commands that make the first
administrator; running exactly those commands leads to a sign-in, after which it stays quiet.
Each case has its own empty database (the shared PostgreSQL one holds other tests' people)."""
from __future__ import annotations

import shlex
import shutil

import pytest
from click.testing import CliRunner

from cli_support import app_of  # noqa: F401  (fixture)
from conftest import Backend
from fortium_metrics.cli import main
from fortium_metrics.store import migrate

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path) -> Backend:
    """Overrides conftest's: an empty, migrated database of its own."""
    if request.param == "sqlite":
        path = tmp_path / "fortium.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Backend("sqlite", f"sqlite:///{path}", f"sqlite:///{path}")
    databases = request.getfixturevalue("pg_databases")
    owner = databases.create()
    migrate.upgrade(owner, "head", "fortium_app")
    return Backend("postgres", databases.app_url(owner), owner)


@pytest.fixture
def run(backend, tmp_path, monkeypatch):
    """The CLI on the empty database, with `serve` stopping before it would listen."""
    import uvicorn

    import fortium_metrics.app
    import fortium_metrics.runtime

    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORTIUM_DATABASE_URL", backend.url)
    monkeypatch.setenv("FORTIUM_ADMIN_DATABASE_URL", backend.owner_url)  # reading every organisation's set-up
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(fortium_metrics.app, "create_app", lambda settings: None)
    monkeypatch.setattr(fortium_metrics.runtime, "tune_gc_for_serving", lambda: None)

    def invoke(*args: str, input: str | None = None):
        result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def printed_commands(output: str) -> list[list[str]]:
    """The fortium-metrics command lines of the hint, without the program name."""
    lines = [shlex.split(line) for line in output.splitlines() if line.startswith("    fortium-metrics ")]
    return [words[1:] for words in lines]


def test_serve_on_an_empty_store_prints_commands_that_lead_to_a_sign_in(run, app_of):
    output = run("serve", "--port", "8765")
    commands = printed_commands(output)
    assert [c[:2] for c in commands] == [["org", "create"], ["user", "create"]], output
    assert "--role" in commands[1] and commands[1][commands[1].index("--role") + 1] == "admin"
    assert "POST http://127.0.0.1:8765/api/auth/login" in output
    for command in commands:
        run(*command, input=f"{PASSWORD}\n{PASSWORD}\n")
    slug = commands[0][commands[0].index("--slug") + 1]
    email = commands[1][commands[1].index("--email") + 1]
    assert app_of(lambda app: app.accounts.login(email, PASSWORD, "127.0.0.1", slug)).role == "admin"
    assert printed_commands(run("serve")) == []
    assert "No administrator" not in run("serve")


def test_an_admin_without_a_password_is_told_how_to_set_one(run, app_of):
    run("org", "create", "Acme", "--slug", "acme")
    run("user", "create", "--org", "acme", "--email", "alice@acme.test", "--role", "admin")
    commands = printed_commands(run("serve"))
    assert commands == [["user", "set-password", "alice@acme.test", "--org", "acme"]]
    run(*commands[0], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert app_of(lambda app: app.accounts.login("alice@acme.test", PASSWORD, "127.0.0.1", "acme")).role == "admin"
    assert printed_commands(run("serve")) == []


def test_an_organisation_without_any_admin_gets_the_user_create_command(run):
    run("org", "create", "Acme", "--slug", "acme")
    run("user", "create", "--org", "acme", "--email", "dev@acme.test", "--password-stdin", input=PASSWORD + "\n")
    commands = printed_commands(run("serve"))
    assert [c[:2] for c in commands] == [["user", "create"]] and commands[0][commands[0].index("--org") + 1] == "acme"


def test_the_printed_program_carries_the_data_dir_serve_was_given(run, tmp_path):
    other = tmp_path / "elsewhere"
    output = run("--data-dir", str(other), "serve")
    assert f"fortium-metrics --data-dir {shlex.quote(str(other))} org create" in output


def test_the_printed_program_is_the_script_that_ran_when_it_is_not_on_path(tmp_path, monkeypatch):
    from fortium_metrics.cli import first_run

    script = tmp_path / ".venv" / "bin" / "fortium-metrics"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(first_run.sys, "argv", [str(script), "serve"])
    monkeypatch.setattr(first_run.shutil, "which", lambda name: None)
    assert first_run.program(None, False) == ".venv/bin/fortium-metrics"
    monkeypatch.setattr(first_run.shutil, "which", lambda name: str(script))
    assert first_run.program("/data dir", True) == "fortium-metrics --data-dir '/data dir' --database-url URL"


def test_without_the_owners_url_serve_starts_and_org_commands_name_what_they_need(run, backend, monkeypatch):
    """On PostgreSQL the application role cannot read across organisations (revision 0010): `serve`
    still starts (without the set-up hint), and `org create` asks for the owner's URL."""
    if backend.name != "postgres":
        pytest.skip("SQLite has no roles: operator commands always work there")
    monkeypatch.delenv("FORTIUM_ADMIN_DATABASE_URL")
    assert "No administrator" not in run("serve")
    result = CliRunner().invoke(main, ["org", "create", "Acme", "--slug", "acme"], catch_exceptions=False)
    assert result.exit_code != 0 and "FORTIUM_ADMIN_DATABASE_URL" in result.output, result.output
