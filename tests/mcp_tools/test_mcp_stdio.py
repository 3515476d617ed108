"""`fortium-metrics mcp` spawned on stdio by the SDK's own client, as Claude Code launches it:
embedded (local SQLite file, local user) and forwarder (remote server, spool while it is down)."""
from __future__ import annotations

import json
import os

import anyio
import pytest

from fortium_metrics import orgs, users
from fortium_metrics.mcp.spool import Spool
from fortium_metrics.principal import Principal
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.uow import Store
from mcp_tools.mcp_support import BatchLog, LiveServer, connect, free_port, ok, stdio_params, stdio_session, tool_counts

pytestmark = pytest.mark.anyio


async def test_embedded_mode_records_into_a_fresh_local_file_as_the_local_user(tmp_path):
    data = tmp_path / "data"
    async with stdio_session(stdio_params(data, tmp_path / "home"), tmp_path / "stderr.log") as session:
        assert len((await session.list_tools()).tools) >= 20
        session_id = (await ok(session, "record_session_start", {"project": "laptop"}))["session_id"]
        await ok(session, "record_tool_use", {"tool_name": "Grep", "duration_ms": 4, "session_id": session_id})
        assert tool_counts(await ok(session, "tool_stats")) == {"Grep": 1}
        collected = await session.call_tool("collect_metrics", {"command_name": "/plan", "execution_time_ms": 5,
                                                                "success": True})
        assert collected.content[0].text.startswith("Metric collected successfully")
    assert "recording as dev@example.com" in (tmp_path / "stderr.log").read_text()
    store = Store(create_engine(f"sqlite:///{data / 'fortium.db'}"))
    try:
        async with store.unit_of_work(Principal.system("test")) as uow:
            local = await orgs.get_by_slug(uow, "local")
        async with store.unit_of_work(Principal.org_admin(local.id)) as uow:
            assert [u.email for u in await users.list_users(uow)] == ["dev@example.com"]
    finally:
        await store.dispose()


async def test_forwarder_spools_while_the_server_is_down_then_delivers_all_once_in_order(backend, keys, tmp_path):
    port, log = free_port(), BatchLog()
    params = stdio_params(tmp_path / "client", tmp_path / "home", FORTIUM_API_URL=f"http://127.0.0.1:{port}",
                          FORTIUM_API_KEY=keys["alice"], args="--flush-interval 3600")
    async with stdio_session(params, tmp_path / "stderr.log") as forwarder:
        queued = [await ok(forwarder, "record_tool_use", {"tool_name": name}) for name in ("A", "B", "C")]
        assert {r["status"] for r in queued} == {"queued"}
        batch = await ok(forwarder, "record_events", {"events": [
            {"type": "tool_execution", "tool_name": "D", "event_id": "d-1"},
            {"type": "tool_execution", "tool_name": "E", "event_id": "e-1"}]})
        assert (batch["queued"], batch["accepted"]) == (2, 0)
        offline = await forwarder.call_tool("tool_stats", {})
        assert offline.is_error and "is unreachable" in offline.content[0].text
        assert Spool(tmp_path / "client" / "spool").pending() == 4

        server = await LiveServer(backend.url, tmp_path / "server", port=port, wrap=log.wrap).start()
        try:
            last = await ok(forwarder, "record_tool_use", {"tool_name": "F"})  # flushes the spool first
            assert last["status"] == "recorded"
            expected = [r["event_id"] for r in queued] + ["d-1", "e-1", last["event_id"]]
            assert log.event_ids == expected
            assert Spool(tmp_path / "client" / "spool").pending() == 0
            # Read back through the server, via the forwarder's proxy and directly.
            counts = {name: 1 for name in "ABCDEF"}
            assert tool_counts(await ok(forwarder, "tool_stats")) == counts
            async with connect("streamable_http", server.base, keys["alice"]) as direct:
                assert tool_counts(await ok(direct, "tool_stats")) == counts
        finally:
            await server.stop()


async def test_stdout_carries_only_protocol_messages(tmp_path):
    """Migrations, logs and warnings go to stderr: every stdout line is a JSON-RPC message."""
    params = stdio_params(tmp_path / "data", tmp_path / "home")
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "record_tool_use",
                                                                       "arguments": {"tool_name": "Read"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "no-such-tool", "arguments": {}}},
    ]
    env = {**os.environ, **params.env}
    env = {key: value for key, value in env.items() if not key.startswith("FORTIUM_") or key in params.env}
    with open(tmp_path / "stderr.log", "w") as errlog:
        async with await anyio.open_process([params.command, *params.args], env=env, cwd=params.cwd,
                                            stderr=errlog) as process:
            lines = []
            with anyio.fail_after(60):
                for message in messages:
                    await process.stdin.send((json.dumps(message) + "\n").encode())
                    if "id" in message:
                        lines.append(await _read_line(process.stdout))
                await process.stdin.aclose()
                rest = b"".join([chunk async for chunk in process.stdout])
                await process.wait()
    replies = [json.loads(line) for line in lines + rest.decode().splitlines()]
    assert [reply["id"] for reply in replies] == [1, 2, 3] and all(r["jsonrpc"] == "2.0" for r in replies)
    assert replies[1]["result"]["structuredContent"]["status"] == "recorded"
    assert replies[2]["result"]["isError"] is True
    assert "Running upgrade" in (tmp_path / "stderr.log").read_text()  # the migration log went to stderr


async def _read_line(stream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        data += await stream.receive(1)
    return data.decode()
