"""The event bus across processes: two app instances on one Redis, and Redis unreachable."""
from __future__ import annotations

import logging

import pytest

from conftest import running_server
from live_support import ingest, live_client, next_message, session_token
from rest_support import redis_url

pytestmark = pytest.mark.anyio
TASK = {"type": "task", "task_name": "across", "event_id": "across-1"}


async def test_an_ingest_on_instance_a_reaches_a_client_on_instance_b(backend, tmp_path, store, people, keys):
    url = redis_url()
    with running_server(backend, tmp_path / "a", redis_url=url) as a, \
            running_server(backend, tmp_path / "b", redis_url=url) as b:
        async with live_client(b, await session_token(store, b, people.bob)) as bob, \
                live_client(b, await session_token(store, b, people.charlie)) as charlie, \
                live_client(a, await session_token(store, a, people.alice)) as alice:
            await ingest(a, keys["alice"], [TASK])
            heard_on_b = await next_message(bob, "metric_ingested")
            heard_on_a = await next_message(alice, "metric_ingested")
            assert heard_on_b == heard_on_a  # one message, delivered once in each process
            assert heard_on_b["data"]["counts"] == {"task": 1}
            assert (await next_message(bob))["type"] == "dashboard_update"
            assert (await next_message(alice))["type"] == "dashboard_update"
            await ingest(b, keys["charlie"], [{**TASK, "event_id": "across-b"}])
            assert (await next_message(charlie))["organization_id"] == str(people.org_b)  # nothing of org A first


async def test_with_redis_unreachable_updates_stay_in_the_process_with_a_warning(backend, tmp_path, store, people,
                                                                                 keys, caplog):
    with caplog.at_level(logging.WARNING, logger="fortium_metrics.bus_redis"):
        with running_server(backend, tmp_path / "s", redis_url="redis://127.0.0.1:1/0") as server:
            async with live_client(server, await session_token(store, server, people.bob)) as bob:
                await ingest(server, keys["alice"], [TASK])
                assert (await next_message(bob, "metric_ingested"))["data"]["counts"] == {"task": 1}
    warnings = [r.getMessage() for r in caplog.records if r.name == "fortium_metrics.bus_redis"]
    assert any("Redis unavailable" in text and "this process only" in text for text in warnings)
