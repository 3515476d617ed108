"""REST batch ingestion into PostgreSQL vs a raw COPY of the same rows, in one run.

    FORTIUM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_ingest_copy.py [--events 200000] [--batch 1000] [--clients 8] [--workers 1] \\
        [--rounds 3] [--client raw|httpx]

What is measured:
* REST: a real uvicorn server (a child process, the app as `serve` builds it, rate limit off)
  on 127.0.0.1, and `--clients` concurrent clients (keep-alive HTTP/1.1 written directly, or
  httpx with `--client httpx`) posting `POST /api/v1/metrics/batch` bodies of `--batch` tool
  executions, each with a distinct event_id. The clock runs from the first request to the last
  answer; every answer must report all events accepted. The requests are serialised before the
  clock starts (that is the clients' cost, not the service's).
* COPY: the same number of rows, with the same column values, written by psycopg
  `COPY metric_events (...) FROM STDIN` in one transaction. PostgreSQL refuses COPY FROM into a
  table with row-level security for a role subject to it, so this runs as the admin URL's role
  (a superuser: no policy checks), into the same partitioned table. It stores no dedup keys:
  dedup is part of what the service does and the baseline does not.
Both write to the same throw-away database (migrated by the Alembic revisions, dropped at the
end), each into its own organisation. The machine is shared and its speed drifts within seconds,
so the two alternate for `--rounds` rounds (new event ids each round, the server kept running):
each round prints both rates and their ratio, and the last line gives the median ratio.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
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


async def new_org_and_key(app_url: str, owner_url: str, label: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    store = Store(create_engine(app_url), create_engine(owner_url))  # the owner makes the organisation
    try:
        async with store.unit_of_work(Principal.system("bench")) as uow:
            org = await orgs.create_organization(uow, f"Bench {label}", f"bench-{label}-{uuid.uuid4().hex[:6]}")
        async with store.unit_of_work(Principal.org_admin(org.id, "bench")) as uow:
            user = await users.create_user(uow, f"{label}@bench.test", label, "developer")
            key = await apikeys.create_api_key(uow, "bench", ["ingest"], user.email)
        return org.id, user.id, key.secret
    finally:
        await store.dispose()


def events(count: int, start: datetime, label: str = "0") -> list[dict]:
    """Distinct tool executions, one millisecond apart, inside one monthly partition."""
    return [{"type": "tool_execution", "event_id": f"bench-{label}-{i}", "tool_name": ("Read", "Edit", "Bash")[i % 3],
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
from fortium_metrics.runtime import tune_gc_for_serving

def app():  # as `fortium-metrics serve` builds and runs it
    app = create_app(load_settings())
    tune_gc_for_serving()
    return app

if __name__ == "__main__":
    uvicorn.run("bench_server:app", factory=True, host="127.0.0.1", port=int(sys.argv[1]), workers=int(sys.argv[2]),
                log_level="warning")
"""


class Server:
    """The app under uvicorn in a child process, configured through FORTIUM_* like `serve`;
    `workers` > 1 runs that many processes behind one socket, as a deployment scales out."""

    def __init__(self, app_url: str, data_dir: str, workers: int, code: str | None = None) -> None:
        """`code`: a source directory (holding fortium_metrics) to run instead of the installed one."""
        self.port = free_port()
        env = {**os.environ, "FORTIUM_DATABASE_URL": app_url, "FORTIUM_DATA_DIR": data_dir, "FORTIUM_RATE_LIMIT": "off",
               "FORTIUM_LOG_LEVEL": "warning", "PYTHONPATH": os.pathsep.join(filter(None, (code, data_dir)))}
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


def _check(status: int, result: dict, expected: int) -> None:
    if status != 200 or result["rejected"] or result["duplicates"] or result["accepted"] != expected:
        raise RuntimeError(f"unexpected answer {status}: {str(result)[:300]}")


async def post_all_raw(url: str, secret: str, bodies: list[bytes], clients: int) -> float:
    """The load generator that costs the machine least: each client keeps one HTTP/1.1
    connection and writes requests serialised before the clock starts, then reads the status
    line, the headers and the Content-Length body of each answer. On this 2-core machine every
    CPU second the clients spend is taken from the server and PostgreSQL."""
    address = httpx.URL(url)
    head = (f"POST /api/v1/metrics/batch HTTP/1.1\r\nHost: {address.host}:{address.port}\r\n"
            f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\nContent-Length: ")
    requests = [(f"{head}{len(body)}\r\n\r\n".encode() + body, len(json.loads(body)["events"])) for body in bodies]
    requests.reverse()

    async def client() -> None:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        try:
            while requests:
                request, expected = requests.pop()
                writer.write(request)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                _check(status, json.loads(await reader.readexactly(length)), expected)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


async def post_all_httpx(url: str, secret: str, bodies: list[bytes], clients: int) -> float:
    """The same load through httpx (about 4 µs of client CPU per event here: see docs/benchmarks.md)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                body = queue.get_nowait()
                response = await http.post("/api/v1/metrics/batch", content=body, headers=headers)
                _check(response.status_code, response.json(), len(json.loads(body)["events"]))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


CLIENTS = {"raw": post_all_raw, "httpx": post_all_httpx}


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
    parser.add_argument("--events", type=int, default=200_000, help="events per round and side")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="REST and COPY alternate this many times")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw",
                        help="load generator: raw HTTP/1.1 (least CPU) or httpx")
    args = parser.parse_args()
    admin = os.environ.get("FORTIUM_BENCH_POSTGRES_URL") or os.environ.get("FORTIUM_TEST_POSTGRES_URL")
    if not admin:
        sys.exit("set FORTIUM_TEST_POSTGRES_URL (or FORTIUM_BENCH_POSTGRES_URL) to a superuser URL")
    start = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    print(f"events: {args.events} per round in batches of {args.batch}, {args.clients} concurrent clients, "
          f"{args.workers} uvicorn worker(s), {args.client} client; PostgreSQL, throw-away database")
    ratios = []
    with ThrowAwayDatabase(admin) as (owner, app_url), tempfile.TemporaryDirectory() as data_dir:
        rest_org, rest_user, secret = asyncio.run(new_org_and_key(app_url, owner, "rest"))
        copy_org, copy_user, _ = asyncio.run(new_org_and_key(app_url, owner, "copy"))
        server = Server(app_url, data_dir, args.workers)
        try:
            server.wait_ready()
            for round_number in range(1, args.rounds + 1):
                items = events(args.events, start, str(round_number))
                bodies = [json.dumps({"events": items[i:i + args.batch]}).encode() for i in range(0, len(items), args.batch)]
                rest_rate = args.events / asyncio.run(CLIENTS[args.client](server.url, secret, bodies, args.clients))
                copy_rate = args.events / copy_rows(owner, copy_org, copy_user, items)
                ratios.append(rest_rate / copy_rate)
                print(f"round {round_number}: REST /api/v1/metrics/batch {rest_rate:8.0f} events/s   "
                      f"COPY metric_events {copy_rate:8.0f} events/s   ratio {ratios[-1]:.2f}", flush=True)
        finally:
            server.stop()
        assert count_rows(owner, rest_org) == count_rows(owner, copy_org) == args.events * args.rounds
    print(f"median ratio REST / COPY over {args.rounds} rounds: {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
