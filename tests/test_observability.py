"""/readyz, /metrics (Prometheus) and structured logs without secrets, on both databases."""
from __future__ import annotations

import io
import json
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fortium_metrics import logs
from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def client_for(app, client=("127.0.0.1", 5000)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url="http://testserver")


async def test_readyz_checks_database_migrations_redis_and_scheduler(app, api):
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "not_ready": [],
                            "checks": {"database": "ok", "migrations": "ok", "redis": "ok", "scheduler": "ok"}}
    app.state.scheduler.shutdown(wait=False)
    stopped = await api.get("/readyz")
    assert stopped.status_code == 503 and stopped.json()["not_ready"] == ["scheduler"]
    assert stopped.json()["checks"]["scheduler"] == "not running"


async def test_readyz_names_an_unreachable_redis(store, backend, tmp_path):
    settings = load_settings(database_url=backend.url, data_dir=tmp_path / "d", redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        async with await client_for(app) as client:
            ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["not_ready"] == ["redis"]


async def test_metrics_count_ingestion_http_and_jobs(app, keys):
    async with await client_for(app) as client:
        before = samples((await client.get("/metrics")).text)
        sent = await client.post("/api/v1/metrics/batch", headers={"Authorization": f"Bearer {keys['bob']}"},
                                 json={"events": [{"type": "tool_execution", "tool_name": "Read", "duration_ms": 3},
                                                  {"type": "tool_execution", "tool_name": "Read"}, {"type": "nope"}]})
        assert sent.status_code in (200, 207), sent.text
        await client.get("/api/users/not-a-uuid", headers={"Authorization": f"Bearer {keys['bob']}"})
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    after = samples(scraped.text)

    def grew(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("fortium_ingest_events_total", source="rest", outcome="accepted") == 2
    assert grew("fortium_ingest_events_total", source="rest", outcome="rejected") == 1
    assert grew("fortium_ingest_seconds_count", source="rest") == 1
    assert grew("fortium_ingest_group_commit_events_count") >= 1
    assert grew("fortium_http_requests_total", method="POST", route="/api/v1/metrics/batch", status=str(sent.status_code)) == 1
    # Route templates, never paths: the id in the URL is not a label.
    assert not any("not-a-uuid" in str(labels) for _, labels in after)
    assert ("fortium_ingest_queue_requests", ()) in after and ("fortium_websocket_clients", ()) in after
    assert any(name == "fortium_db_pool_connections" for name, _ in after) or app.state.store.dialect == "sqlite"


async def test_metrics_need_the_token_or_loopback(store, backend, tmp_path):
    async with await client_for(create_app(load_settings(database_url=backend.url, data_dir=tmp_path), store=store),
                                client=("203.0.113.9", 1)) as remote:
        assert (await remote.get("/metrics")).status_code == 404
    async with await client_for(create_app(load_settings(database_url=backend.url, data_dir=tmp_path), store=store)) as local:
        assert (await local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})).status_code == 404  # via a proxy
        assert (await local.get("/metrics")).status_code == 200
    token = "scrape-" + "x" * 30
    app = create_app(load_settings(database_url=backend.url, data_dir=tmp_path, metrics_token=token), store=store)
    async with await client_for(app, client=("203.0.113.9", 1)) as remote:
        assert (await remote.get("/metrics")).status_code == 404
        assert (await remote.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 404
        assert (await remote.get("/metrics", headers={"Authorization": f"Bearer {token}"})).status_code == 200


@pytest.fixture
def json_logs():
    stream = io.StringIO()
    logs.configure("json", "info")
    root = logging.getLogger()
    root.handlers[0].stream = stream
    yield stream
    root.handlers[:] = []
    logging.getLogger("uvicorn.access").disabled = False


async def test_json_logs_carry_request_and_organisation_ids_and_never_a_secret(store, backend, tmp_path, keys, people,
                                                                              json_logs):
    app = create_app(load_settings(database_url=backend.url, data_dir=tmp_path, log_format="json"), store=store)
    password = "correct horse battery staple 42"
    async with app.router.lifespan_context(app):
        async with await client_for(app) as client:
            listed = await client.get("/api/users", headers={"Authorization": f"Bearer {keys['alice_admin']}",
                                                             "X-Request-ID": "req-123"})
            await client.post("/api/auth/login", json={"email": "alice@a.test", "password": password})
            refused = await client.get("/api/users", headers={"Authorization": "Bearer fmk_not_a_real_key_but_secret",
                                                              "X-Request-ID": "req-401"})
            await client.get("/healthz?token=abc-secret-in-query")
        # Code that carelessly logs a credential still writes no credential.
        logging.getLogger("fortium_metrics.test").warning(
            "calling with %s and password=%s via postgresql://app:pg-secret@db/x, Authorization: Bearer %s",
            keys["bob"], password, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
    assert listed.headers["x-request-id"] == "req-123"
    # One id per request: the error envelope's, the response header's and the log's.
    assert refused.status_code == 401 and refused.json()["error"]["request_id"] == "req-401"
    assert refused.headers.get_list("x-request-id") == ["req-401"]
    text = json_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if line["logger"] == "fortium_metrics.access"]
    mine = next(line for line in access if line.get("request_id") == "req-123")
    assert mine["route"] == "/api/users" and mine["status"] == 200
    assert mine["organization_id"] == str(people.org_a)
    assert all(line.get("request_id") for line in access)
    assert any(line.get("request_id") == "req-401" and line["status"] == 401 for line in access)
    for secret in (*keys.values(), password, "fmk_not_a_real_key_but_secret", "pg-secret", "abc-secret-in-query",
                   "c2lnbmF0dXJl"):
        assert secret not in text
