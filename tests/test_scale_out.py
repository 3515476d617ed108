"""Two real `fortium-metrics serve` processes on one PostgreSQL and one Redis, as behind a load
balancer: rate limits are shared, a WebSocket client of process A hears an ingest made on process
B, tokens issued by one are valid on the other, and the retention job runs once per interval
across both (the job lease), never on both at once. Waits are harness deadlines, not timings."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from fortium_metrics import accounts, orgs, retention, users
from fortium_metrics.principal import Principal
from fortium_metrics.store import leases, migrate
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.uow import Store
from rest_support import bearer, make_key, redis_url
from test_faults import ServeProcess

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]
PASSWORD = "a long enough password 1"
RATE = 20  # requests per minute per organisation, shared by both processes
INTERVAL = 2  # seconds between retention runs (across the deployment)


@pytest.fixture
async def deployment(pg_databases, tmp_path):
    owner = pg_databases.create()
    migrate.upgrade(owner, "head", "fortium_app")
    app_url = pg_databases.app_url(owner)
    settings = {"redis_url": redis_url(), "secret_key": "s" * 48, "mode": "production", "cookie_secure": "false",
                "rate_limit": f"{RATE}/minute", "retention_interval_seconds": str(INTERVAL)}
    servers = [ServeProcess(app_url, tmp_path / name, **settings) for name in ("a", "b")]
    store = Store(create_engine(app_url), create_engine(owner))  # the owner makes the organisations
    try:
        for server in servers:
            server.start()
        yield servers, store
    finally:
        for server in servers:
            server.stop()
        await store.dispose()


async def new_org(store: Store, slug: str):
    async with store.unit_of_work(Principal.system("test")) as uow:
        org = await orgs.create_organization(uow, slug.title(), slug)
    async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
        await users.create_user(uow, f"ada@{slug}.test", "Ada", "admin")
        await accounts.set_password(uow, f"ada@{slug}.test", PASSWORD)
    return org


def job_runs(server: ServeProcess) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {sample.labels["outcome"]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "fortium_job_runs_total" and sample.labels.get("job") == "retention"}


async def test_two_processes_behave_as_one_service(deployment):
    (a, b), store = deployment
    started = time.monotonic()
    org = await new_org(store, "scale")
    async with httpx.AsyncClient(timeout=30) as http:
        # Tokens: signed in on A, used and refreshed on B.
        login = await http.post(f"{a.url}/api/auth/login", json={"email": "ada@scale.test", "password": PASSWORD})
        assert login.status_code == 200, login.text
        tokens = login.json()
        me = await http.get(f"{b.url}/api/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200 and me.json()["organization_id"] == str(org.id)
        refreshed = await http.post(f"{b.url}/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        assert (await http.get(f"{a.url}/api/auth/me", headers=bearer(refreshed.json()["access_token"]))).status_code == 200

        # Live updates: a browser on A hears what B ingested.
        key = await make_key(store, org.id, ["ingest", "read"], "ada@scale.test")
        headers = {"Cookie": f"fm_access={tokens['access_token']}", "Origin": a.url}
        async with connect(a.url.replace("http", "ws", 1) + "/ws", additional_headers=headers) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "hello"
            sent = await http.post(f"{b.url}/api/v1/metrics/batch", headers=bearer(key),
                                   json={"events": [{"type": "tool_execution", "tool_name": "Read"}]})
            assert sent.status_code == 200, sent.text
            async with asyncio.timeout(20):
                while (message := json.loads(await ws.recv()))["type"] != "metric_ingested":
                    pass
        assert message["organization_id"] == str(org.id)

    # Rate limits: one budget for the organisation, whichever process answers.
    limited = await new_org(store, "limited")
    limited_key = await make_key(store, limited.id, ["ingest", "read"])
    async with httpx.AsyncClient(timeout=30) as http:
        on_a = [(await http.get(f"{a.url}/api/auth/me", headers=bearer(limited_key))).status_code
                for _ in range(RATE - 5)]
        on_b = [(await http.get(f"{b.url}/api/auth/me", headers=bearer(limited_key))).status_code
                for _ in range(10)]
    assert set(on_a) == {200} and set(on_b) == {200, 429}
    assert on_b.count(429) == 5 and on_b[:5].count(429) == 0  # B saw what A had counted

    # Retention: both schedulers try every interval; the lease lets one run per interval.
    while time.monotonic() - started < 5 * INTERVAL:
        await asyncio.sleep(0.5)
    runs_a, runs_b = job_runs(a), job_runs(b)
    lease = await leases.describe(store, retention.JOB)
    ran = runs_a.get("ok", 0) + runs_b.get("ok", 0)
    assert ran >= 1 and lease.runs == ran  # every run counted once, by the process that did it
    assert runs_a.get("failed", 0) == runs_b.get("failed", 0) == 0
    assert runs_a.get("skipped", 0) + runs_b.get("skipped", 0) >= 1  # the other process stood aside
    elapsed = time.monotonic() - started + 10  # the processes started before `started`
    assert ran <= elapsed / (0.9 * INTERVAL) + 1  # once per interval, not once per process
