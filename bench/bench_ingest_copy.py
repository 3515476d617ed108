"""REST batch ingestion into PostgreSQL vs a raw COPY of the same rows, in one run.

    FORTIUM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_ingest_copy.py [--events 200000] [--batch 1000] [--clients 8] [--workers 1]

What is measured:
* REST: a real uvicorn server (a child process, the app as `serve` builds it, rate limit off)
  on 127.0.0.1, and `--clients` concurrent httpx clients posting `POST /api/v1/metrics/batch`
  bodies of `--batch` tool executions, each with a distinct event_id. The clock runs from the
  first request to the last answer; every answer must report all events accepted. The bodies are
  serialised before the clock starts (that is the clients' cost, not the service's).
* COPY: the same number of rows, with the same column values, written by psycopg
  `COPY metric_events (...) FROM STDIN` in one transaction. PostgreSQL refuses COPY FROM into a
  table with row-level security for a role subject to it, so this runs as the admin URL's role
  (a superuser: no policy checks), into the same partitioned table. It stores no dedup keys:
  dedup is part of what the service does and the baseline does not.
Both write to the same throw-away database (migrated by the Alembic revisions, dropped at the
end), each into a fresh organisation. Prints events/s of both and the ratio REST / COPY.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from fortium_metrics import apikeys, orgs, users
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.event_writer import COLUMNS
from fortium_metrics.store.uow import Store

APP_ROLE = "fortium_app"


def plain(url) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ThrowAwayDatabase:
    """CREATE DATABASE on enter (migrated to head as the owner), DROP on exit."""

    def __init__(self, admin_url: str) -> None:
        self.admin = make_url(plain(admin_url))
        self.name = f"fortium_bench_{uuid.uuid4().hex[:10]}"

    def _exec(self, sql: str) -> None:
        with psycopg.connect(plain(self.admin), autocommit=True) as conn:
            conn.execute(sql)

    def __enter__(self) -> tuple[str, str]:
        self._exec(f'CREATE DATABASE "{self.name}"')
        owner = plain(self.admin.set(database=self.name))
        migrate.upgrade(owner, "head", APP_ROLE)
        return owner, plain(make_url(owner).set(username=APP_ROLE, password=None))

    def __exit__(self, *_exc) -> None:
        self._exec(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def new_org_and_key(app_url: str, label: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    store = Store(create_engine(app_url))
    try:
        async with store.unit_of_work(Principal.system("bench")) as uow:
            org = await orgs.create_organization(uow, f"Bench {label}", f"bench-{label}-{uuid.uuid4().hex[:6]}")
        async with store.unit_of_work(Principal.org_admin(org.id, "bench")) as uow:
            user = await users.create_user(uow, f"{label}@bench.test", label, "developer")
            key = await apikeys.create_api_key(uow, "bench", ["ingest"], user.email)
        return org.id, user.id, key.secret
    finally:
        await store.dispose()


def events(count: int, start: datetime) -> list[dict]:
    """Distinct tool executions, one millisecond apart, inside one monthly partition."""
    return [{"type": "tool_execution", "event_id": f"bench-{i}", "tool_name": ("Read", "Edit", "Bash")[i % 3],
             "duration_ms": float(i % 500), "success": i % 17 != 0, "session_id": f"s-{i // 1000}",
             "timestamp": (start + timedelta(milliseconds=i)).isoformat(), "attributes": {"file_path": f"src/f{i % 97}.py"}}
            for i in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER = """
import sys, uvicorn
from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings

def app():
    return create_app(load_settings())

if __name__ == "__main__":
    uvicorn.run("bench_server:app", factory=True, host="127.0.0.1", port=int(sys.argv[1]), workers=int(sys.argv[2]),
                log_level="warning")
"""


class Server:
    """The app under uvicorn in a child process, configured through FORTIUM_* like `serve`;
    `workers` > 1 runs that many processes behind one socket, as a deployment scales out."""

    def __init__(self, app_url: str, data_dir: str, workers: int) -> None:
        self.port = free_port()
        env = {**os.environ, "FORTIUM_DATABASE_URL": app_url, "FORTIUM_DATA_DIR": data_dir, "FORTIUM_RATE_LIMIT": "off",
               "FORTIUM_LOG_LEVEL": "warning", "PYTHONPATH": data_dir}
        Path(data_dir, "bench_server.py").write_text(SERVER)
        self.process = subprocess.Popen([sys.executable, str(Path(data_dir, "bench_server.py")), str(self.port), str(workers)],
                                        env=env)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not answer /healthz in time")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


async def post_all(url: str, secret: str, bodies: list[bytes], clients: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                body = queue.get_nowait()
                response = await http.post("/api/v1/metrics/batch", content=body, headers=headers)
                result = response.json()
                if response.status_code != 200 or result["rejected"] or result["duplicates"]:
                    raise RuntimeError(f"unexpected answer {response.status_code}: {str(result)[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


def copy_rows(owner_url: str, org: uuid.UUID, user: uuid.UUID, items: list[dict]) -> float:
    """The baseline: the same rows (same column values the service stores) by one raw COPY."""
    rows = [row_for(org, user, item) for item in items]
    with psycopg.connect(owner_url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY metric_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def row_for(org: uuid.UUID, user: uuid.UUID, item: dict) -> list:
    values = {"organization_id": org, "id": uuid.uuid4(), "occurred_at": datetime.fromisoformat(item["timestamp"]),
              "kind": "tool_execution", "name": item["tool_name"], "user_id": user, "session_id": item["session_id"],
              "source": "rest", "dedup_key": f"id:{item['event_id']}", "success": item["success"],
              "duration_ms": item["duration_ms"], "attributes": Jsonb(item["attributes"])}
    return [values.get(column) for column in COLUMNS]


def count_rows(owner_url: str, org: uuid.UUID) -> int:
    with psycopg.connect(owner_url) as conn:
        return conn.execute("SELECT count(*) FROM metric_events WHERE organization_id = %s", (org,)).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    admin = os.environ.get("FORTIUM_BENCH_POSTGRES_URL") or os.environ.get("FORTIUM_TEST_POSTGRES_URL")
    if not admin:
        sys.exit("set FORTIUM_TEST_POSTGRES_URL (or FORTIUM_BENCH_POSTGRES_URL) to a superuser URL")
    start = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    items = events(args.events, start)
    bodies = [json.dumps({"events": items[i:i + args.batch]}).encode() for i in range(0, len(items), args.batch)]
    with ThrowAwayDatabase(admin) as (owner, app_url), tempfile.TemporaryDirectory() as data_dir:
        rest_org, rest_user, secret = asyncio.run(new_org_and_key(app_url, "rest"))
        copy_org, copy_user, _ = asyncio.run(new_org_and_key(app_url, "copy"))
        server = Server(app_url, data_dir, args.workers)
        try:
            server.wait_ready()
            rest_seconds = asyncio.run(post_all(server.url, secret, bodies, args.clients))
        finally:
            server.stop()
        copy_seconds = copy_rows(owner, copy_org, copy_user, items)
        assert count_rows(owner, rest_org) == count_rows(owner, copy_org) == args.events
    rest_rate, copy_rate = args.events / rest_seconds, args.events / copy_seconds
    print(f"events: {args.events} in batches of {args.batch}, {args.clients} concurrent clients, "
          f"{args.workers} uvicorn worker(s); PostgreSQL, throw-away database {Path(owner).name}")
    print(f"REST  /api/v1/metrics/batch: {rest_seconds:8.2f} s  {rest_rate:10.0f} events/s")
    print(f"COPY  metric_events        : {copy_seconds:8.2f} s  {copy_rate:10.0f} events/s")
    print(f"ratio REST / COPY          : {rest_rate / copy_rate:8.2f}")


if __name__ == "__main__":
    main()
