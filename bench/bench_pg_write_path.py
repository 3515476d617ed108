"""PostgreSQL backend CPU per row for the service's write path, against the raw COPY baseline.

    FORTIUM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_pg_write_path.py [--rows 100000] [--rounds 3]

Where bench_ingest_copy.py measures the whole service, this isolates what PostgreSQL does for it.
Each round writes the same kind of rows (bench_ingest_copy's tool executions) three ways, into
one throw-away database, and reads the backend's CPU time from /proc around the writes:
* service: store/event_writer.write_events in a unit of work, as the application role under
  row-level security — binary COPY into the staging table, then the claim (keys into event_keys,
  rows into metric_events, one statement in a savepoint);
* direct: COPY straight into metric_events plus the same key claim, as the superuser. It is what a
  writer role exempt from row-level security could do (PostgreSQL refuses COPY FROM into a table
  with row-level security), so it prices that guarantee on the write path;
* baseline: the raw COPY bench_ingest_copy.py compares with.
Prints the median per way and its ratio to the baseline. Needs the server on this machine (/proc).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest_copy import ThrowAwayDatabase, events, new_org_and_key, row_for  # noqa: E402

from fortium_metrics.principal import Principal  # noqa: E402
from fortium_metrics.store.engine import create_engine  # noqa: E402
from fortium_metrics.store.event_writer import COLUMNS, ROW_COLUMNS, json_text, write_events  # noqa: E402
from fortium_metrics.store.uow import Store  # noqa: E402


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(conn: psycopg.Connection) -> float:
    return process_cpu(conn.info.backend_pid)


def service(app_url: str, org, rows: list[list]) -> float:
    """store/event_writer.write_events itself, in the application's unit of work."""
    staged = [[dict(zip(COLUMNS, row))[c] for c in ROW_COLUMNS] for row in rows]
    for row in staged:
        row[-1] = json_text(row[-1].obj)  # rows carry attributes as JSON text (ROW_COLUMNS)

    async def write() -> float:
        store = Store(create_engine(app_url))
        try:
            async with store.unit_of_work(Principal(org, kind="ingest", label="bench")) as uow:
                connection = await (await uow.session.connection()).get_raw_connection()
                pid = connection.driver_connection.info.backend_pid
                started = process_cpu(pid)
                await write_events(uow, staged)
            return process_cpu(pid) - started  # the commit included
        finally:
            await store.dispose()

    return asyncio.run(write())


def direct(owner_url: str, org, rows: list[list]) -> float:
    key, time = COLUMNS.index("dedup_key"), COLUMNS.index("occurred_at")
    with psycopg.connect(owner_url) as conn:
        conn.execute('CREATE TEMP TABLE keys (dedup_key text COLLATE "C", occurred_at timestamptz) ON COMMIT DELETE ROWS')
        started = backend_cpu(conn)
        with conn.cursor().copy("COPY keys FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "timestamptz"])
            for row in rows:
                copy.write_row((row[key], row[time]))
        conn.execute("INSERT INTO event_keys (organization_id, dedup_key, occurred_at) "
                     "SELECT %s, dedup_key, occurred_at FROM keys ORDER BY dedup_key", (org,))
        baseline_copy(conn, rows)
        conn.commit()
        return backend_cpu(conn) - started


def baseline_copy(conn: psycopg.Connection, rows: list[list]) -> None:
    with conn.cursor().copy(f"COPY metric_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def baseline(owner_url: str, _org, rows: list[list]) -> float:
    with psycopg.connect(owner_url) as conn:
        started = backend_cpu(conn)
        baseline_copy(conn, rows)
        conn.commit()
        return backend_cpu(conn) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per way and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    admin = os.environ.get("FORTIUM_BENCH_POSTGRES_URL") or os.environ.get("FORTIUM_TEST_POSTGRES_URL")
    if not admin:
        sys.exit("set FORTIUM_TEST_POSTGRES_URL (or FORTIUM_BENCH_POSTGRES_URL) to a superuser URL")
    start = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ways = {"service (staging + claim, RLS)": service, "direct COPY + key claim": direct, "baseline raw COPY": baseline}
    results: dict[str, list[float]] = {name: [] for name in ways}
    with ThrowAwayDatabase(admin) as (owner, app_url):
        org, user, _ = asyncio.run(new_org_and_key(app_url, owner, "write-path"))
        for round_number in range(args.rounds):
            for name, way in ways.items():
                items = events(args.rows, start, f"{round_number}-{name.split()[0]}")
                rows = [row_for(org, user, item) for item in items]
                url = app_url if way is service else owner
                results[name].append(way(url, org, rows) / args.rows * 1e6)
            print(f"round {round_number + 1}: " + "   ".join(f"{name} {values[-1]:.2f}" for name, values in results.items()),
                  flush=True)
    base = statistics.median(results["baseline raw COPY"])
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:32s} PostgreSQL backend CPU {median:5.2f} µs/row   {median / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
