"""The forwarder's code, called in-process (the stdio test covers the spawned command): periodic
flush, replays stored once, local validation while offline, server answers (5xx, 4xx, 401) and
reads through the remote server's MCP endpoint."""
from __future__ import annotations

import json

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from fortium_metrics.mcp.forwarder import Forwarder
from fortium_metrics.mcp.server import build_mcp
from fortium_metrics.mcp.spool import Spool
from mcp_tools.mcp_support import LiveServer, connect, fails, free_port, ok, tool_counts

pytestmark = pytest.mark.anyio


def _forwarder(url: str, key: str, tmp_path, http: httpx.AsyncClient | None = None) -> Forwarder:
    return Forwarder(url, key, Spool(tmp_path / "spool"), http=http)


async def _server_counts(server: LiveServer, key: str) -> dict[str, int]:
    async with connect("streamable_http", server.base, key) as session:
        return tool_counts(await ok(session, "tool_stats"))


async def test_the_periodic_flush_delivers_the_spool_without_new_calls(backend, keys, tmp_path):
    port = free_port()
    forwarder = _forwarder(f"http://127.0.0.1:{port}", keys["alice"], tmp_path)
    async with Client(build_mcp(None, forwarder=forwarder)) as client:
        assert (await ok(client, "record_tool_use", {"tool_name": "Offline"}))["status"] == "queued"
    server = await LiveServer(backend.url, tmp_path / "server", port=port).start()
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(forwarder.flush_periodically, 0.05)
            with anyio.fail_after(20):
                while forwarder.spool.pending():
                    await anyio.sleep(0.02)
            tasks.cancel_scope.cancel()
        assert await _server_counts(server, keys["alice"]) == {"Offline": 1}
    finally:
        await forwarder.aclose()
        await server.stop()


async def test_a_batch_replayed_after_a_crash_is_stored_once(live, keys, tmp_path):
    forwarder = _forwarder(live.base, keys["alice"], tmp_path)
    try:
        events = [{"type": "tool_execution", "tool_name": "Once", "event_id": f"once-{i}"} for i in range(3)]
        assert (await forwarder.record(events)).accepted == 3
        async with forwarder.spool.locked():  # what a crash between delivery and bookkeeping leaves
            forwarder.spool.append(events)
        assert await forwarder.flush() is True
        assert await _server_counts(live, keys["alice"]) == {"Once": 3}
    finally:
        await forwarder.aclose()


async def test_invalid_events_are_refused_locally_even_offline(tmp_path):
    forwarder = _forwarder(f"http://127.0.0.1:{free_port()}", "fmk_x", tmp_path)
    async with Client(build_mcp(None, forwarder=forwarder)) as client:
        result = await ok(client, "record_events", {"events": [
            {"type": "tool_execution", "tool_name": "Read"}, {"type": "tool_execution", "duration_ms": -5}]})
        assert (result["queued"], result["rejected"]) == (1, 1)
        assert [(e["index"], e["field"]) for e in result["errors"]] == [(1, "tool_name"), (1, "duration_ms")]
        assert "at most 5000" in await fails(client, "record_events", {"events": [{"type": "task", "task_name": "t"}] * 5001})
        text = await fails(client, "productivity_summary")
        assert "is unreachable" in text and "recording still works offline" in text
    spooled = json.loads((tmp_path / "spool" / "spool.jsonl").read_text())
    assert len(spooled) == 1 and spooled[0]["event_id"] and spooled[0]["timestamp"]


def _mock(responses: list[httpx.Response], seen: list[list[str]]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append([event["tool_name"] for event in json.loads(request.content)["events"]])
        return responses.pop(0)
    return httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://server")


async def test_5xx_queues_and_a_batch_the_server_refuses_is_set_aside(tmp_path):
    ok_body = {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    seen: list[list[str]] = []
    responses = [httpx.Response(503), httpx.Response(422, json={"error": {"message": "events: too large"}}),
                 httpx.Response(200, json=ok_body), httpx.Response(200, json=ok_body)]
    forwarder = _forwarder("http://server", "fmk_x", tmp_path, _mock(responses, seen))
    first = await forwarder.record([{"type": "tool_execution", "tool_name": "A"}])
    assert first.queued == 1  # 503: kept
    second = await forwarder.record([{"type": "tool_execution", "tool_name": "B"}])
    assert (second.queued, second.accepted) == (0, 1)  # A refused (422) and set aside, then B
    assert await forwarder.record([{"type": "tool_execution", "tool_name": "C"}]) is not None
    assert seen == [["A"], ["A"], ["B"], ["C"]]
    assert "too large" in (tmp_path / "spool" / "spool.rejected.jsonl").read_text()
    assert forwarder.spool.pending() == 0


async def test_a_refused_key_is_a_clear_tool_error(live, tmp_path):
    forwarder = _forwarder(live.base, "fmk_0123456789_" + "x" * 40, tmp_path)
    async with Client(build_mcp(None, forwarder=forwarder)) as client:
        assert "refused FORTIUM_API_KEY" in await fails(client, "record_tool_use", {"tool_name": "Read"})
        assert "refused FORTIUM_API_KEY (401)" in await fails(client, "tool_stats")
    await forwarder.aclose()
    assert forwarder.spool.pending() == 0


async def test_reads_and_resources_come_from_the_server(live, keys, tmp_path):
    forwarder = _forwarder(live.base, keys["alice"], tmp_path)
    async with Client(build_mcp(None, forwarder=forwarder)) as client:
        started = await ok(client, "record-session-start", {"metadata": {"project_name": "remote"}})
        await ok(client, "record_tool_use", {"tool_name": "Read", "session_id": started["session_id"]})
        ended = await ok(client, "record-session-end", {"session_id": started["session_id"]})
        assert ended["success"] is True and ended["summary"] is None
        metrics = (await ok(client, "session_metrics", {"session_id": started["session_id"]}))["sessions"][0]
        assert metrics["events"] == {"tool_execution": 1} and metrics["ended_at"]
        dashboard = json.loads((await client.read_resource("metrics://dashboard/current")).contents[0].text)
        assert dashboard["sessions"] == 1 and dashboard["tool_executions"] == 1
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource("fortium://nope")
    await forwarder.aclose()


async def test_queued_events_the_server_rejects_later_are_kept_for_inspection(tmp_path):
    refused = {"accepted": 1, "duplicates": 0, "rejected": 1, "errors": [
        {"index": 0, "field": "team", "message": "team: no team 'ghosts' in this organisation"}]}
    seen: list[list[str]] = []
    responses = [httpx.Response(503), httpx.Response(200, json=refused)]
    forwarder = _forwarder("http://server", "fmk_x", tmp_path, _mock(responses, seen))
    events = [{"type": "tool_execution", "tool_name": "A", "team": "ghosts"}, {"type": "tool_execution", "tool_name": "B"}]
    assert (await forwarder.record(events)).queued == 2
    assert await forwarder.flush() is True
    rejected = [json.loads(line) for line in (tmp_path / "spool" / "spool.rejected.jsonl").read_text().splitlines()]
    assert [(r["reason"], [e["tool_name"] for e in r["events"]]) for r in rejected] == [
        ("team: no team 'ghosts' in this organisation", ["A"])]
