"""The retention job on both databases: per-organisation cut-offs, whole partitions on PostgreSQL
only when every organisation's retention allows, rollups kept longer, dry run, audit, idempotence,
one runner at a time (the job lease). Each test owns its database (a run is database-wide)."""
from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import func, select

from conftest import Backend, operator_store, unique_slug
from fortium_metrics import orgs, retention, users
from fortium_metrics.accounts import ROLE_SCOPES
from fortium_metrics.analytics.rollups import rebuild
from fortium_metrics.errors import Conflict
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal
from fortium_metrics.store import leases, migrate
from fortium_metrics.store.models import AgentSession, AuditLog, EventKey, MetricEvent
from fortium_metrics.store.rollups import RollupDaily
from fortium_metrics.store.uow import Store

pytestmark = pytest.mark.anyio
NOW = datetime.now(timezone.utc).replace(microsecond=0)
ROLLUP_DAYS = 200


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_backend(request, tmp_path) -> Backend:
    """A database of the test's own: retention and partition drops act on every organisation."""
    if request.param == "sqlite":
        path = tmp_path / "fortium.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Backend("sqlite", f"sqlite:///{path}", f"sqlite:///{path}")
    dbs = request.getfixturevalue("pg_databases")
    owner = dbs.create()
    migrate.upgrade(owner, "head", "fortium_app")
    return Backend("postgres", dbs.app_url(owner), owner)


@pytest.fixture
async def own_store(own_backend):
    store = operator_store(own_backend)  # organisations are made as the CLI does; retention needs no owner
    yield store
    await store.dispose()


def month_partition(owner_url: str, day: datetime) -> str:
    """An old month's partition, as months become old in a long-running deployment."""
    start = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    name = f"metric_events_p{start:%Y_%m}"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF metric_events "
                     f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")
    return name


async def make_org(store: Store, days: int) -> tuple[uuid.UUID, str, Principal]:
    async with store.unit_of_work(Principal.system("test")) as uow:
        org = await orgs.create_organization(uow, "Org", unique_slug("ret"), days)
    async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
        user = await users.create_user(uow, f"dev@{org.slug}.test", "Dev", "developer")
    return org.id, org.slug, Principal(org.id, user.id, "developer", ROLE_SCOPES["developer"], "user", "dev")


def event(days_ago: int, n: int = 0) -> dict:
    at = (NOW - timedelta(days=days_ago, minutes=n)).isoformat()
    return {"type": "tool_execution", "tool_name": "Read", "duration_ms": 5, "timestamp": at,
            "session_id": f"s{days_ago}", "event_id": f"e{days_ago}-{n}"}


def session(days_ago: int) -> list[dict]:
    at = NOW - timedelta(days=days_ago)
    return [{"type": "session_start", "session_id": f"s{days_ago}", "timestamp": at.isoformat()},
            {"type": "session_end", "session_id": f"s{days_ago}", "timestamp": (at + timedelta(hours=1)).isoformat()}]


async def counts(store: Store, org: uuid.UUID) -> dict[str, int]:
    async with store.unit_of_work(Principal.org_admin(org)) as uow:
        scalar = uow.session.scalar
        return {"events": await scalar(select(func.count()).select_from(MetricEvent)),
                "keys": await scalar(select(func.count()).select_from(EventKey)),
                "sessions": await scalar(select(func.count()).select_from(AgentSession)),
                "rollup_days": await scalar(select(func.count(func.distinct(RollupDaily.day)))),
                "audits": await scalar(select(func.count()).select_from(AuditLog)
                                       .where(AuditLog.action == "retention.run"))}


@pytest.fixture
async def world(own_store, own_backend):
    """Org A keeps 30 days, org B 400; events 10, 100 and 500 days old (B: 100 and 500)."""
    if own_backend.name == "postgres":
        for days in (100, 500):
            month_partition(own_backend.owner_url, NOW - timedelta(days=days))
    a, slug_a, dev_a = await make_org(own_store, 30)
    b, slug_b, dev_b = await make_org(own_store, 400)
    ingestor = Ingestor(own_store)
    try:
        for principal, ages in ((dev_a, (10, 100, 500)), (dev_b, (100, 500))):
            items = [event(age, n) for age in ages for n in range(3)] + [s for age in ages for s in session(age)]
            result = await record_events(ingestor, principal, items, "test")
            assert result.rejected == 0, result.errors
    finally:
        await ingestor.close()
    await rebuild(own_store, [a, b])
    return {"a": a, "b": b, "slug_a": slug_a, "slug_b": slug_b, "dev_a": dev_a}


async def test_dry_run_says_what_would_go_and_deletes_nothing(own_store, own_backend, world):
    before = {org: await counts(own_store, world[org]) for org in ("a", "b")}
    report = await retention.run(own_store, ROLLUP_DAYS, dry_run=True, now=NOW)
    by_slug = {r.slug: r for r in report.organizations}
    # A: the 100- and 500-day-old events (3 each) and their sessions; B: the 500-day-old ones.
    assert (by_slug[world["slug_a"]].events, by_slug[world["slug_a"]].sessions) == (6, 2)
    assert (by_slug[world["slug_b"]].events, by_slug[world["slug_b"]].sessions) == (3, 1)
    assert by_slug[world["slug_a"]].rollup_rows > 0 and by_slug[world["slug_b"]].rollup_rows > 0
    old_month = f"metric_events_p{NOW - timedelta(days=500):%Y_%m}"
    # Only the month every organisation lets go is a droppable partition, never B's 100-day-old one.
    assert report.partitions == ([old_month] if own_backend.name == "postgres" else [])
    assert {org: await counts(own_store, world[org]) for org in ("a", "b")} == before


async def test_a_run_deletes_per_organisation_keeps_rollups_longer_and_audits(own_store, own_backend, world):
    report = await retention.run(own_store, ROLLUP_DAYS, now=NOW)
    a, b = await counts(own_store, world["a"]), await counts(own_store, world["b"])
    # Only the 10-day-old activity: 3 events, their keys and the session's start and end keys.
    assert (a["events"], a["keys"], a["sessions"]) == (3, 5, 1)
    assert (b["events"], b["keys"], b["sessions"]) == (3, 5, 1)  # the 100-day-old one (B keeps 400 days)
    # Rollups: A keeps max(30, 200) days, so the 100-day-old day outlives its events; B keeps 400.
    assert (a["rollup_days"], b["rollup_days"]) == (2, 1)
    assert (a["audits"], b["audits"]) == (1, 1)
    if own_backend.name == "postgres":
        assert report.partitions == [f"metric_events_p{NOW - timedelta(days=500):%Y_%m}"]
        with psycopg.connect(own_backend.owner_url) as conn:
            left = {row[0] for row in conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                                   "ON c.oid = i.inhrelid WHERE i.inhparent = 'metric_events'::regclass")}
        assert f"metric_events_p{NOW - timedelta(days=500):%Y_%m}" not in left
        assert f"metric_events_p{NOW - timedelta(days=100):%Y_%m}" in left
    async with own_store.unit_of_work(Principal.org_admin(world["a"])) as uow:
        entry = await uow.session.scalar(select(AuditLog).where(AuditLog.action == "retention.run"))
    assert entry.actor == "retention" and entry.details["events"] == 6 and entry.details["sessions"] == 2
    # Idempotent: a second run finds nothing and writes no audit entry.
    again = await retention.run(own_store, ROLLUP_DAYS, now=NOW)
    assert all(not r.anything for r in again.organizations) and again.partitions == []
    assert (await counts(own_store, world["a"]))["audits"] == 1


async def test_one_organisation_only(own_store, world):
    report = await retention.run(own_store, ROLLUP_DAYS, slug=world["slug_a"], now=NOW)
    assert [r.slug for r in report.organizations] == [world["slug_a"]] and report.partitions == []
    assert (await counts(own_store, world["a"]))["events"] == 3
    assert (await counts(own_store, world["b"]))["events"] == 6  # untouched, even its expired month


async def test_dedup_keys_go_with_their_events(own_store, world):
    await retention.run(own_store, ROLLUP_DAYS, now=NOW)
    ingestor = Ingestor(own_store)
    try:  # the 10-day-old event is still known; a kept key would have made the old one a duplicate
        result = await record_events(ingestor, world["dev_a"], [event(10, 0), event(100, 0)], "test")
    finally:
        await ingestor.close()
    assert (result.accepted, result.duplicates) == (1, 1)


async def test_one_runner_at_a_time(own_store, world):
    other = await leases.try_acquire(own_store, retention.JOB, timedelta(minutes=5), holder="elsewhere:1")
    assert other is not None
    with pytest.raises(Conflict):
        await retention.run(own_store, ROLLUP_DAYS, now=NOW)
    assert await retention.run(own_store, ROLLUP_DAYS, now=NOW, min_interval=timedelta(hours=1)) is None
    assert await leases.try_acquire(own_store, retention.JOB, timedelta(minutes=5)) is None
    assert (await counts(own_store, world["a"]))["events"] == 9  # nothing ran
    await leases.release(other)
    assert await retention.run(own_store, ROLLUP_DAYS, now=NOW) is not None
    # The scheduler's way: once per interval across processes — it ran just now, so not again.
    assert await retention.run(own_store, ROLLUP_DAYS, now=NOW, min_interval=timedelta(hours=1)) is None
    held = await leases.describe(own_store, retention.JOB)
    assert held.runs == 2 and held.expires_at is None


async def test_an_expired_lease_is_taken_over(own_store):
    dead = await leases.try_acquire(own_store, "job", timedelta(seconds=-1), holder="dead:1")
    assert dead is not None
    taken = await leases.try_acquire(own_store, "job", timedelta(minutes=1))
    assert taken is not None and taken.holder != "dead:1"


def test_the_command_dry_run_and_run(own_backend, tmp_path, monkeypatch):
    """`retention run --dry-run --json` reports and keeps; `retention run` deletes; both by the CLI."""
    import asyncio
    import json

    from click.testing import CliRunner

    from fortium_metrics.cli import main

    async def setup():
        store = operator_store(own_backend)
        try:
            _, slug, dev = await make_org(store, 30)
            ingestor = Ingestor(store)
            await record_events(ingestor, dev, [event(10), event(100)], "test")
            await ingestor.close()
            return slug, dev.organization_id
        finally:
            await store.dispose()

    slug, org = asyncio.run(setup())
    env = {"FORTIUM_DATABASE_URL": own_backend.url, "FORTIUM_ADMIN_DATABASE_URL": own_backend.owner_url,
           "FORTIUM_DATA_DIR": str(tmp_path / "data")}
    dry = CliRunner(env=env).invoke(main, ["retention", "run", "--dry-run", "--json"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] is True and [(r["org"], r["events"]) for r in report["organizations"]] == [(slug, 1)]
    done = CliRunner(env=env).invoke(main, ["retention", "run", "--org", slug], catch_exceptions=False)
    assert done.exit_code == 0 and f"{slug}: deleted 1 events" in done.output

    async def left():
        store = operator_store(own_backend)
        try:
            return await counts(store, org)
        finally:
            await store.dispose()

    assert asyncio.run(left())["events"] == 1
    unknown = CliRunner(env=env).invoke(main, ["retention", "run", "--org", "nope"])
    assert unknown.exit_code == 1 and "nope" in unknown.output


async def test_retention_days_are_validated_strictly(own_store):
    from fortium_metrics.errors import Invalid

    async with own_store.unit_of_work(Principal.system("test")) as uow:
        for bad in (0, 3651, True, 30.5):
            with pytest.raises(Invalid, match="data_retention_days"):
                await orgs.create_organization(uow, "Bad", unique_slug("bad"), bad)
