"""`WebSocket /ws` with real clients against the app under uvicorn, on SQLite and PostgreSQL:
who may connect, what reaches whom (Alice, Bob and Charlie), slow clients, the per-user cap."""
from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import running_server
from fortium_metrics.bus import publish_alert
from live_support import (browser_headers, in_server, ingest, live_client, next_message, session_token,
                          silent_client, wait_until, ws_url)

pytestmark = pytest.mark.anyio
EVENTS = [{"type": "session_start", "session_id": "live-1"},
          {"type": "tool_execution", "tool_name": "Read", "session_id": "live-1", "event_id": "live-read"},
          {"type": "tool_execution", "tool_name": "Edit", "session_id": "live-1", "event_id": "live-edit"}]


async def refused(server, headers: dict) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as raised:
        async with connect(ws_url(server), additional_headers=headers):
            pass
    response = raised.value.response
    return response.status_code, json.loads(response.body)["error"]


async def test_an_ingest_through_rest_reaches_a_connected_client(live_server, store, people, keys):
    async with live_client(live_server, await session_token(store, live_server, people.bob)) as bob:
        await ingest(live_server, keys["alice"], EVENTS)
        ingested = await next_message(bob, "metric_ingested")
        update = await next_message(bob, "dashboard_update")
    assert ingested["organization_id"] == str(people.org_a)
    assert ingested["data"] == {"counts": {"session_start": 1, "tool_execution": 2}, "events": 3}
    assert update["organization_id"] == str(people.org_a) and update["data"] == {"reason": "metric_ingested"}


async def test_a_duplicate_ingest_announces_nothing(live_server, store, people, keys):
    await ingest(live_server, keys["alice"], EVENTS)
    async with live_client(live_server, await session_token(store, live_server, people.alice)) as alice:
        assert (await ingest(live_server, keys["alice"], EVENTS))["duplicates"] == 3
        await ingest(live_server, keys["alice"], [{"type": "task", "task_name": "new", "event_id": "t-1"}])
        assert (await next_message(alice, "metric_ingested"))["data"]["counts"] == {"task": 1}


async def test_charlie_never_receives_alices_events(live_server, store, people, keys):
    async with live_client(live_server, await session_token(store, live_server, people.charlie)) as charlie, \
            live_client(live_server, await session_token(store, live_server, people.bob)) as bob:
        await ingest(live_server, keys["alice"], EVENTS)
        assert (await next_message(bob))["organization_id"] == str(people.org_a)
        # Messages reach a client in the order they were published: Charlie's first one is his own
        # organisation's, published after Alice's.
        await ingest(live_server, keys["charlie"], [{"type": "task", "task_name": "b", "event_id": "b-1"}])
        for _ in range(2):
            message = await next_message(charlie)
            assert message["organization_id"] == str(people.org_b)
            assert message["type"] in ("metric_ingested", "dashboard_update")


async def test_without_a_session_the_handshake_is_refused(live_server):
    status, error = await refused(live_server, browser_headers(live_server, None))
    assert (status, error["code"]) == (401, "unauthorized")
    status, error = await refused(live_server, browser_headers(live_server, "e.x.pired"))
    assert status == 401


async def test_a_page_of_another_site_is_refused_even_with_the_cookie(live_server, store, people):
    token = await session_token(store, live_server, people.alice)
    status, error = await refused(live_server, browser_headers(live_server, token, origin="https://evil.example"))
    assert (status, error["code"]) == (403, "forbidden") and "evil.example" in error["message"]
    status, error = await refused(live_server, browser_headers(live_server, token, origin=None))
    assert status == 403 and error["message"].startswith("Origin: missing")


async def test_a_program_with_a_bearer_key_needs_no_origin(live_server, keys):
    async with connect(ws_url(live_server), additional_headers={"Authorization": f"Bearer {keys['bob']}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"


async def test_the_public_url_is_an_allowed_origin(backend, tmp_path, store, people):
    with running_server(backend, tmp_path / "s", public_url="https://metrics.example.com/") as server:
        token = await session_token(store, server, people.alice)
        headers = browser_headers(server, token, origin="https://metrics.example.com")
        async with connect(ws_url(server), additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"


async def test_a_client_that_does_not_read_is_dropped_while_others_keep_receiving(backend, tmp_path, store, people):
    with running_server(backend, tmp_path / "s", ws_queue_messages=8) as server:
        hub = server.app.state.hub
        silent = silent_client(server, await session_token(store, server, people.bob))
        try:
            async with live_client(server, await session_token(store, server, people.alice)) as alice:
                await wait_until(lambda: in_server(server, lambda: hub.connections == 2))
                payload, burst, sent = "x" * 65536, 4, 0  # bursts the queue of 8 holds: only a non-reader overflows
                while await in_server(server, lambda: hub.connections) == 2:
                    assert sent < 2000, "the silent client was never dropped"
                    await in_server(server, lambda: [publish_alert(server.app.state.ctx.bus, people.org_a,
                                                                   {"n": sent + i, "payload": payload})
                                                     for i in range(burst)])
                    for i in range(burst):  # the reading client gets every message, in order
                        assert (await next_message(alice, "alert_triggered"))["data"]["alert"]["n"] == sent + i
                    sent += burst
                await in_server(server, lambda: publish_alert(server.app.state.ctx.bus, people.org_a, {"n": -1}))
                assert (await next_message(alice, "alert_triggered"))["data"]["alert"]["n"] == -1
        finally:
            silent.close()


async def test_over_the_per_user_cap_the_next_connection_is_closed_with_a_reason(backend, tmp_path, store, people):
    with running_server(backend, tmp_path / "s", ws_max_per_user=2) as server:
        token = await session_token(store, server, people.alice)
        async with live_client(server, token), live_client(server, token) as second:
            async with connect(ws_url(server), additional_headers=browser_headers(server, token)) as third:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(third.recv(), 10)
            assert closed.value.rcvd.code == 4429 and "FORTIUM_WS_MAX_PER_USER" in closed.value.rcvd.reason
            async with live_client(server, await session_token(store, server, people.bob)):
                pass  # the cap is per person: Bob still connects
            await second.close()
            hub = server.app.state.hub
            await wait_until(lambda: in_server(server, lambda: hub.connections == 1))
            async with live_client(server, token):
                pass  # a place freed up


async def test_heartbeats_keep_coming(backend, tmp_path, store, people):
    with running_server(backend, tmp_path / "s", ws_heartbeat_seconds=0.05) as server:
        async with live_client(server, await session_token(store, server, people.bob)) as bob:
            for _ in range(2):
                assert json.loads(await asyncio.wait_for(bob.recv(), 10)) == {"type": "heartbeat"}
