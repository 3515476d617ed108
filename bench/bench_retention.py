"""Retention on PostgreSQL: dropping a month's partition against deleting the same rows by range.

    .venv/bin/python bench/bench_retention.py --pg-admin-url postgresql://postgres@127.0.0.1:5432/test \
        [--events 200000] [--rounds 2]

Per round, in a throw-away database migrated to head: one organisation (retention 30 days) and
two old months with `--events` events each (written straight into their partitions as the owner,
with their dedup keys). Baseline: the first month's events removed as the retention job does it
when a partition cannot be dropped (`retention.expire_organization`: 5,000-event transactions as
the application role, row-level security in force). Then the retention job's partition path
(`retention.drop_expired_partitions`) removes the second month whole. Both remove the events and
their dedup keys. Reported: wall time of each and the ratio (range / drop), per round and median.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from fortium_metrics import orgs, retention  # noqa: E402
from fortium_metrics.principal import Principal  # noqa: E402
from fortium_metrics.store import migrate  # noqa: E402
from fortium_metrics.store.engine import create_engine  # noqa: E402
from fortium_metrics.store.uow import Store  # noqa: E402


def month_start(months_ago: int) -> datetime:
    now = datetime.now(timezone.utc)
    index = now.year * 12 + now.month - 1 - months_ago
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def load_month(owner: str, org: uuid.UUID, start: datetime, events: int) -> None:
    end = (start + timedelta(days=32)).replace(day=1)
    part = f"metric_events_p{start:%Y_%m}"
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {part} PARTITION OF metric_events FOR VALUES FROM ('{start}') TO ('{end}')")
        seconds = (end - start).total_seconds()
        conn.execute(f"""
            INSERT INTO {part} (organization_id, id, occurred_at, kind, name, source, dedup_key, duration_ms, attributes)
            SELECT %(org)s, gen_random_uuid(), %(start)s + make_interval(secs => i * {seconds / events}),
                   'tool_execution', 'Read', 'bench', %(tag)s || i, 12.5, '{{"k": 1}}'::jsonb
              FROM generate_series(0, %(n)s - 1) AS i""", {"org": org, "start": start, "tag": f"{part}-", "n": events})
        conn.execute(f"INSERT INTO event_keys (organization_id, dedup_key, occurred_at) "
                     f"SELECT organization_id, dedup_key, occurred_at FROM {part}")
        conn.execute("ANALYZE metric_events; ANALYZE event_keys")


async def one_round(admin_url: str, events: int) -> tuple[float, float]:
    admin = make_url(admin_url)
    name = f"fortium_bench_retention_{uuid.uuid4().hex[:8]}"
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = admin.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    app = make_url(owner).set(username="fortium_app", password=None).render_as_string(hide_password=False)
    try:
        migrate.upgrade(owner, "head", "fortium_app")
        store = Store(create_engine(app), create_engine(owner))  # the owner makes the organisation
        try:
            async with store.unit_of_work(Principal.system("bench")) as uow:
                org = await orgs.create_organization(uow, "Bench", "bench", 30)
            first, second = month_start(24), month_start(23)
            load_month(owner, org.id, first, events)
            load_month(owner, org.id, second, events)
            now = datetime.now(timezone.utc)
            policy = retention.policy_for(org.id, org.slug, 30, 30, now)
            only_first = retention.Policy(org.id, org.slug, second, policy.rollups_before)
            started = time.perf_counter()
            report = retention.OrgReport(org.slug, second, policy.rollups_before)
            await retention.expire_organization(store, only_first, report, None)
            range_seconds = time.perf_counter() - started
            assert report.events == events, report
            started = time.perf_counter()
            rows = await retention.drop_expired_partitions(store, (second + timedelta(days=32)).replace(day=1), False)
            drop_seconds = time.perf_counter() - started
            assert sum(row.events for row in rows) == events, rows
        finally:
            await store.dispose()
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return range_seconds, drop_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-admin-url", required=True)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ratios = []
    for n in range(1, args.rounds + 1):
        range_seconds, drop_seconds = asyncio.run(one_round(args.pg_admin_url, args.events))
        ratios.append(range_seconds / drop_seconds)
        print(f"round {n}: {args.events:,} events — range deletes {range_seconds:.2f} s "
              f"({args.events / range_seconds:,.0f} events/s), partition drop {drop_seconds:.3f} s; "
              f"range / drop {ratios[-1]:.0f}x", flush=True)
    print(f"median range / drop: {statistics.median(ratios):.0f}x")


if __name__ == "__main__":
    main()
