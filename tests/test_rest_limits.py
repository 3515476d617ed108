"""Body size and per-organisation rate limits, in memory and shared through Redis."""
from __future__ import annotations

import time

import pytest

from rest_support import bearer, client_for, redis_url

pytestmark = pytest.mark.anyio
EVENT = {"command_name": "/x", "timestamp": "2025-01-01T00:00:00Z"}


async def test_a_declared_body_over_the_limit_is_413_before_reading(store, backend, tmp_path, keys):
    async with client_for(store, backend, tmp_path, max_body_bytes=2048) as api:
        response = await api.post("/api/v1/metrics/commands", content=b"[" + b" " * 4096 + b"]",
                                  headers={**bearer(keys["alice"]), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large" and response.json()["error"]["field"] == "body"


async def test_a_streamed_body_without_length_is_cut_at_the_limit(store, backend, tmp_path, keys):
    sent = []

    async def chunks():  # chunked transfer: no Content-Length to trust
        for _ in range(100):
            sent.append(1)
            yield b" " * 1024

    async with client_for(store, backend, tmp_path, max_body_bytes=4096) as api:
        response = await api.post("/api/v1/metrics/commands", content=chunks(),
                                  headers={**bearer(keys["alice"]), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert len(sent) < 10  # reading stopped right after the limit


async def test_a_body_under_the_limit_passes(store, backend, tmp_path, keys):
    async with client_for(store, backend, tmp_path, max_body_bytes=2048) as api:
        response = await api.post("/api/v1/metrics/commands", json=EVENT, headers=bearer(keys["alice"]))
    assert response.status_code == 201


async def test_responses_carry_rate_limit_headers_counting_down(api, keys):
    first = await api.post("/api/v1/metrics/commands", json=EVENT, headers=bearer(keys["alice"]))
    second = await api.get("/api/v1/summary", headers=bearer(keys["bob"]))  # same organisation, same budget
    from fortium_metrics.config import Settings
    from limits import parse

    assert first.headers["x-ratelimit-limit"] == str(parse(Settings.model_fields["rate_limit"].default).amount)
    assert int(first.headers["x-ratelimit-remaining"]) - int(second.headers["x-ratelimit-remaining"]) == 1
    assert time.time() < int(second.headers["x-ratelimit-reset"]) <= time.time() + 61


async def test_over_the_limit_is_429_with_retry_after_and_other_organisations_are_unaffected(store, backend, tmp_path, keys):
    async with client_for(store, backend, tmp_path, rate_limit="3/minute") as api:
        answers = [await api.get("/api/v1/sessions", headers=bearer(keys["alice"])) for _ in range(4)]
        charlie = await api.get("/api/v1/sessions", headers=bearer(keys["charlie"]))
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited" and "3 per 1 minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert charlie.status_code == 200 and charlie.headers["x-ratelimit-remaining"] == "2"


async def test_unauthenticated_and_public_requests_are_not_counted(store, backend, tmp_path):
    async with client_for(store, backend, tmp_path, rate_limit="1/minute") as api:
        answers = [await api.get("/api/v1/hooks/health") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "x-ratelimit-limit" not in answers[0].headers


async def test_rate_limit_off_sends_no_headers(store, backend, tmp_path, keys):
    async with client_for(store, backend, tmp_path, rate_limit="off") as api:
        response = await api.get("/api/v1/sessions", headers=bearer(keys["alice"]))
    assert response.status_code == 200 and "x-ratelimit-limit" not in response.headers


async def test_two_app_instances_share_one_budget_through_redis(store, backend, tmp_path, keys):
    url = redis_url()
    async with client_for(store, backend, tmp_path / "one", rate_limit="4/minute", redis_url=url) as one, \
            client_for(store, backend, tmp_path / "two", rate_limit="4/minute", redis_url=url) as two:
        answers = []
        for client in (one, two, one, two, one, two):
            answers.append(await client.get("/api/v1/sessions", headers=bearer(keys["alice"])))
        charlie = await two.get("/api/v1/sessions", headers=bearer(keys["charlie"]))
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:4]] == ["3", "2", "1", "0"]
    assert charlie.status_code == 200


async def test_an_unreachable_redis_lets_requests_through(store, backend, tmp_path, keys):
    async with client_for(store, backend, tmp_path, redis_url="redis://127.0.0.1:1/0") as api:
        response = await api.get("/api/v1/sessions", headers=bearer(keys["alice"]))
    assert response.status_code == 200 and "x-ratelimit-limit" not in response.headers
