"""The API-key lookup of every request since revision 0010 — the SECURITY DEFINER function
`fortium_api_key(prefix)` run as the application role — against the same SELECT as it ran
before (here as the owner, whom row-level security does not filter), on one throw-away database,
alternating, in the same run. Prints microseconds per lookup (a round trip and a commit each)
and the ratio.

    python bench/bench_key_lookup.py postgresql://postgres@127.0.0.1:5432/postgres [--n 3000]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import psycopg
from sqlalchemy.engine import make_url

from fortium_metrics import apikeys, orgs
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.uow import Store

BEFORE = ("SELECT k.organization_id, k.user_id, k.prefix, k.secret_hash, k.scopes, k.revoked_at, k.last_used_at, "
          "u.role, u.active FROM api_keys k LEFT JOIN users u ON u.organization_id = k.organization_id "
          "AND u.id = k.user_id WHERE k.prefix = %s")
NOW = "SELECT * FROM fortium_api_key(%s)"


async def _keys(owner: str, app: str, count: int = 200) -> str:
    store = Store(create_engine(app), create_engine(owner))
    try:
        async with store.unit_of_work(Principal.system("bench")) as uow:
            org = await orgs.create_organization(uow, "Bench", f"bench-{uuid.uuid4().hex[:6]}")
        async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
            made = [await apikeys.create_api_key(uow, f"k{i}", ["ingest"]) for i in range(count)]
        return made[count // 2].key.prefix
    finally:
        await store.dispose()


def _lookup(url: str, sql: str, prefix: str, n: int) -> float:
    with psycopg.connect(url) as conn:
        for _ in range(n // 10):  # warm-up: plans cached, pages in memory
            conn.execute(sql, (prefix,)).fetchone()
            conn.commit()
        start = time.perf_counter()
        for _ in range(n):
            assert conn.execute(sql, (prefix,)).fetchone() is not None
            conn.commit()
        return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("admin_url")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    admin = make_url(args.admin_url).set(drivername="postgresql")
    name = f"bench_keys_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = admin.set(database=name).render_as_string(hide_password=False)
    app = admin.set(database=name, username="fortium_app", password=None).render_as_string(hide_password=False)
    try:
        migrate.upgrade(owner, "head", "fortium_app")
        prefix = asyncio.run(_keys(owner, app))
        before, now = [], []
        for _ in range(args.rounds):
            before.append(_lookup(owner, BEFORE, prefix, args.n))
            now.append(_lookup(app, NOW, prefix, args.n))
        b, f = statistics.median(before), statistics.median(now)
        print(f"before 0010 (plain SELECT): {b:.1f} µs  definer function as the app role: {f:.1f} µs  "
              f"ratio {f / b:.2f} (medians of {args.rounds} rounds of {args.n})")
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
