"""`backup` / `restore` round trips on both databases: every table's row count and checksum are
the same after restoring into an empty database, the restored database serves the application
role (RLS and grants came back), and a restore replaces what was there."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import Backend, operator_store
from fortium_metrics import backup, orgs
from fortium_metrics.analytics.rollups import rebuild
from fortium_metrics.cli import main
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate
from fortium_metrics.store.models import MetricEvent, Organization

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request, tmp_path) -> tuple[Backend, Backend]:
    """A migrated source database and an EMPTY target database (nothing migrated)."""
    if request.param == "sqlite":
        path = tmp_path / "fortium.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        target = tmp_path / "restored" / "fortium.db"
        target.parent.mkdir()
        return (Backend("sqlite", f"sqlite:///{path}", f"sqlite:///{path}"),
                Backend("sqlite", f"sqlite:///{target}", f"sqlite:///{target}"))
    dbs = request.getfixturevalue("pg_databases")
    source, target = dbs.create(), dbs.create()
    migrate.upgrade(source, "head", "fortium_app")
    return Backend("postgres", dbs.app_url(source), source), Backend("postgres", dbs.app_url(target), target)


def cli(db: Backend, tmp_path: Path, *args: str):
    env = {"FORTIUM_DATABASE_URL": db.url, "FORTIUM_ADMIN_DATABASE_URL": db.owner_url,
           "FORTIUM_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def fingerprint_lines(output: str) -> dict[str, tuple[str, str]]:
    rows = [line.split("\t") for line in output.splitlines() if line.count("\t") == 2]
    return {name: (count, digest) for name, count, digest in rows}


async def fill(db: Backend, people) -> None:
    store = operator_store(db)
    ingestor = Ingestor(store)
    try:
        items = [{"type": "tool_execution", "tool_name": f"T{i % 3}", "duration_ms": i, "session_id": "s1",
                  "attributes": {"n": i, "nested": {"k": [i, "x"]}}} for i in range(50)]
        items.append({"type": "session_start", "session_id": "s1"})
        assert (await record_events(ingestor, people.bob, items, "test")).accepted == 51
        await rebuild(store, [people.org_a])
    finally:
        await ingestor.close()
        await store.dispose()


@pytest.fixture
async def filled(pair):
    from conftest import People
    from fortium_metrics import users
    from fortium_metrics.accounts import ROLE_SCOPES

    source, _ = pair
    store = operator_store(source)
    try:
        async with store.unit_of_work(Principal.system("test")) as uow:
            a = await orgs.create_organization(uow, "Org A", "org-a")
            b = await orgs.create_organization(uow, "Org B", "org-b")
        async with store.unit_of_work(Principal.org_admin(a.id)) as uow:
            bob = await users.create_user(uow, "bob@a.test", "Bob", "developer")
        async with store.unit_of_work(Principal.org_admin(b.id)) as uow:
            await users.create_user(uow, "charlie@b.test", "Charlie", "developer")
    finally:
        await store.dispose()
    people = People(a.id, b.id, None, Principal(a.id, bob.id, "developer", ROLE_SCOPES["developer"], "user", "bob"), None)
    await fill(source, people)
    return pair, people


async def test_round_trip_keeps_every_row_of_every_table(filled, tmp_path):
    (source, target), people = filled
    file = tmp_path / "fortium.backup"
    made = fingerprint_lines(cli(source, tmp_path, "backup", str(file), "--verify").output)
    assert file.stat().st_size > 0
    assert int(made["metric_events"][0]) == 50 and int(made["users"][0]) == 2 and int(made["rollup_daily"][0]) > 0
    assert set(made) >= {"organizations", "event_keys", "sessions", "audit_log", "job_leases", "alembic_version"}
    restored = fingerprint_lines(cli(target, tmp_path, "restore", str(file), "--yes", "--verify").output)
    assert restored == made
    # The restored database serves the application role: grants and row-level security came back.
    store = operator_store(target)
    try:
        async with store.unit_of_work(people.bob) as uow:
            assert await uow.session.scalar(select(func.count()).select_from(MetricEvent)) == 50
            assert await uow.session.scalar(select(func.count()).select_from(Organization)) == 1
    finally:
        await store.dispose()


async def test_restore_replaces_what_the_database_holds(filled, tmp_path):
    (source, _), _people = filled
    file = tmp_path / "fortium.backup"
    cli(source, tmp_path, "backup", str(file))
    store = operator_store(source)
    try:
        async with store.unit_of_work(Principal.system("test")) as uow:
            await orgs.create_organization(uow, "Later", "later")
        cli(source, tmp_path, "restore", str(file), "--yes")
        async with store.unit_of_work(Principal.system("test")) as uow:
            slugs = set((await uow.session.scalars(select(Organization.slug))).all())
    finally:
        await store.dispose()
    assert slugs == {"org-a", "org-b"}


def test_restore_refuses_a_file_that_is_not_a_backup(pair, tmp_path):
    source, _ = pair
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    env = {"FORTIUM_DATABASE_URL": source.url, "FORTIUM_ADMIN_DATABASE_URL": source.owner_url,
           "FORTIUM_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner(env=env).invoke(main, ["restore", str(bogus), "--yes"])
    assert result.exit_code == 1 and "FILE" in result.output and "not a" in result.output
    assert backup.fingerprint(source.owner_url)["alembic_version"][0] == 1  # untouched
