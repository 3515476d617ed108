"""Body size and per-organisation rate limits, in memory and shared through Redis."""
from __future__ import annotations

import time

import pytest

from rest_support import bearer, client_for, redis_url

MAX_JSON_DEPTH = 64  # documented in docs/operations.md; web/bodies.py must agree

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


def _nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def _deep_bodies(depth: int) -> dict[str, tuple[str, str]]:
    """(method, JSON body) per route that reads JSON, nested `depth` levels inside its documented shape."""
    tool = '{"type":"tool_execution","tool_name":"Read","timestamp":"2025-01-01T00:00:00Z","attributes":%s}'
    log = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":'
           '{"stringValue":"x","deep":%s}}]}]}]}]}')
    return {
        "/api/v1/metrics/batch": ("POST", '{"events":[%s]}' % (tool % _nested(depth))),
        "/api/v1/metrics/tool-executions": ("POST", tool % _nested(depth)),
        "/v1/logs": ("POST", log % _nested(depth)),
        "/api/v1/hooks/claude-code": ("POST", '{"hook_event_name":"Stop","x":%s}' % _nested(depth)),
        "/api/v1/hooks/tool-metrics": ("POST", '{"tool_name":"Read","enhanced_activity":%s}' % _nested(depth)),
        "/api/org": ("PUT", '{"name":%s}' % _nested(depth)),
        "/api/auth/login": ("POST", '{"email":%s,"password":"x"}' % _nested(depth)),
    }


@pytest.mark.parametrize("depth", [1_100, 5_000])
async def test_deeply_nested_json_is_refused_naming_the_body_on_every_route(api, keys, depth):
    """Nesting of 1,100 levels (batch attributes) or 5,000 (elsewhere) was a RecursionError: a 500
    and a reset connection. OTLP answers its protocol's 400 for malformed data, REST 422."""
    for path, (method, body) in _deep_bodies(depth).items():
        response = await api.request(method, path, content=body.encode(),
                                     headers={**bearer(keys["alice_admin"]), "Content-Type": "application/json"})
        assert response.status_code == (400 if path == "/v1/logs" else 422), (path, response.text)
        error = response.json()["error"]
        assert error["field"] == "body" and f"deeper than {MAX_JSON_DEPTH} levels" in error["message"], path


async def test_nesting_up_to_the_limit_is_accepted_and_brackets_in_strings_do_not_count(api, keys):
    from fortium_metrics.web import bodies

    assert bodies.MAX_JSON_DEPTH == MAX_JSON_DEPTH
    brackets = '"' + '[[{{\\\\\\"[[' * 40 + '"'  # a string of brackets, escaped backslashes and quotes
    attributes = _nested(MAX_JSON_DEPTH - 3, brackets)  # {"events": [{"attributes": ...: the limit exactly
    body = '{"events":[{"type":"command","command_name":"/x","timestamp":"2025-01-01T00:00:00Z","attributes":%s}]}'
    response = await api.post("/api/v1/metrics/batch", content=(body % attributes).encode(),
                              headers={**bearer(keys["alice"]), "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    deeper = await api.post("/api/v1/metrics/batch", content=(body % _nested(MAX_JSON_DEPTH - 2, brackets)).encode(),
                            headers={**bearer(keys["alice"]), "Content-Type": "application/json"})
    assert deeper.status_code == 422 and deeper.json()["error"]["field"] == "body"
