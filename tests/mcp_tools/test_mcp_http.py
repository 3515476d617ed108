"""MCP over Streamable HTTP and SSE against a real uvicorn server, on SQLite and PostgreSQL, with
the SDK's own clients: tools are listed, events recorded and read back, Charlie sees none of
Alice's data, and missing, bad or revoked keys are refused with 401."""
from __future__ import annotations

import httpx
import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from fortium_metrics import apikeys
from mcp_tools.mcp_support import connect, fails, ok, tool_counts

pytestmark = pytest.mark.anyio

CURRENT_TOOLS = {"record_session_start", "record_session_end", "record_tool_use", "record_agent_invocation",
                 "record_command", "record_task", "record_productivity_metric", "record_events",
                 "productivity_summary", "tool_stats", "agent_stats", "session_metrics", "recent_activity"}
LEGACY_TOOLS = {"collect_metrics", "query_dashboard", "record-session-start", "record-session-end",
                "record-tool-usage", "get-session-metrics", "get-tool-metrics"}


async def _alice_records_a_session(session) -> str:
    started = await ok(session, "record_session_start", {"project": "checkout"})
    session_id = started["session_id"]
    for tool, duration in (("Read", 12), ("Read", 8), ("Edit", 30)):
        await ok(session, "record_tool_use", {"tool_name": tool, "duration_ms": duration, "session_id": session_id,
                                              "project": "checkout"})
    await ok(session, "record_agent_invocation", {"agent_name": "code-reviewer", "session_id": session_id,
                                                  "project": "checkout", "input_tokens": 100, "output_tokens": 40})
    await ok(session, "record_session_end", {"session_id": session_id})
    return session_id


async def test_alice_lists_tools_records_events_and_reads_them_back(live, keys, transport):
    async with connect(transport, live.base, keys["alice"]) as session:
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert CURRENT_TOOLS | LEGACY_TOOLS <= names
        session_id = await _alice_records_a_session(session)

        assert tool_counts(await ok(session, "tool_stats", {"days": 1})) == {"Read": 2, "Edit": 1}
        agents = await ok(session, "agent_stats", {})
        assert [(a["name"], a["count"], a["input_tokens"]) for a in agents["items"]] == [("code-reviewer", 1, 100)]
        metrics = (await ok(session, "session_metrics", {"session_id": session_id}))["sessions"][0]
        assert metrics["events"] == {"tool_execution": 3, "agent_invocation": 1}
        assert metrics["ended_at"] is not None
        summary = await ok(session, "productivity_summary", {"project": "checkout"})
        assert (summary["sessions"], summary["tool_executions"], summary["agent_invocations"]) == (1, 3, 1)
        activity = await ok(session, "recent_activity", {"limit": 2})
        assert [item["kind"] for item in activity["items"]] == ["agent_invocation", "tool_execution"]


async def test_charlie_sees_none_of_alices_data(live, keys, transport):
    async with connect(transport, live.base, keys["alice"]) as alice:
        session_id = await _alice_records_a_session(alice)
    async with connect(transport, live.base, keys["charlie"]) as charlie:
        assert (await ok(charlie, "tool_stats", {}))["items"] == []
        assert (await ok(charlie, "productivity_summary", {}))["tool_executions"] == 0
        assert (await ok(charlie, "recent_activity", {}))["items"] == []
        assert (await ok(charlie, "session_metrics", {}))["sessions"] == []
        assert "no session" in await fails(charlie, "session_metrics", {"session_id": session_id})
        assert "no project 'checkout'" in await fails(charlie, "productivity_summary", {"project": "checkout"})
        assert (await ok(charlie, "get-tool-metrics", {}))["total_executions"] == 0
        dashboard = await charlie.read_resource("fortium://dashboard/summary")
        assert '"tool_executions": 0' in dashboard.contents[0].text


async def test_each_caller_acts_as_their_own_key(live, keys, transport):
    """The principal comes from the request's key: Bob's events are Bob's, and what he reads is
    narrowed by his role (a developer reads his own rows), while Alice (admin) reads everyone's."""
    async with connect(transport, live.base, keys["alice"]) as alice:
        await _alice_records_a_session(alice)
    async with connect(transport, live.base, keys["bob"]) as bob:
        await ok(bob, "record_tool_use", {"tool_name": "Bash"})
        assert tool_counts(await ok(bob, "tool_stats", {})) == {"Bash": 1}
    async with connect(transport, live.base, keys["alice"]) as alice:
        assert tool_counts(await ok(alice, "tool_stats", {})) == {"Read": 2, "Edit": 1, "Bash": 1}
        assert tool_counts(await ok(alice, "tool_stats", {"user": "bob@a.test"})) == {"Bash": 1}


async def test_legacy_tools_work_with_their_old_shapes(live, keys, transport):
    async with connect(transport, live.base, keys["alice"]) as session:
        collected = await session.call_tool("collect_metrics", {
            "command_name": "/implement-trd", "execution_time_ms": 1500, "success": True,
            "context": {"claude_session": "s-1", "agent_used": "frontend-developer", "delegation_pattern": {"depth": 1}}})
        assert collected.content[0].text.startswith("Metric collected successfully. ID: ")
        started = await ok(session, "record-session-start", {"metadata": {"project_name": "legacy-app"}})
        assert started["success"] is True and started["session_id"]
        usage = await ok(session, "record-tool-usage", {"tool_name": "Bash", "execution_time_ms": 50, "status": "error",
                                                        "context": {"session_id": started["session_id"]}})
        assert usage["success"] is True and usage["alerts"] == ["Bash ended with status error"]
        ended = await ok(session, "record-session-end", {"session_id": started["session_id"],
                                                         "end_metadata": {"satisfaction_score": 8}})
        assert ended["summary"]["events"] == {"tool_execution": 1}
        dashboard = await session.call_tool("query_dashboard", {"timeframe": "1h", "metrics": ["commands", "agent_invocations"]})
        assert '"commands": 1' in dashboard.content[0].text and '"agent_invocations": 1' in dashboard.content[0].text
        tools = await ok(session, "get-tool-metrics", {"tool_name": "Bash"})
        assert tools["total_executions"] == 1 and tools["tools"][0]["success_rate"] == 0.0
        assert (await ok(session, "get-session-metrics"))["total_sessions"] == 1
        legacy = await session.read_resource("metrics://dashboard/current")
        assert '"commands": 1' in legacy.contents[0].text


@pytest.mark.parametrize("method, path", [("POST", "/mcp"), ("GET", "/sse"), ("POST", "/messages/?session_id=x")])
async def test_mcp_endpoints_refuse_a_missing_or_bad_key_with_401(live, method, path):
    async with httpx.AsyncClient(base_url=live.base) as http:
        for headers in ({}, {"Authorization": "Bearer fmk_0123456789_" + "x" * 40}, {"Authorization": "Basic abc"}):
            response = await http.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_revoked_key_is_refused_even_inside_an_open_session(live, keys, store, people):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {keys['alice']}"}) as http:
        async with connect("streamable_http", live.base, keys["alice"]) as session:
            await ok(session, "record_tool_use", {"tool_name": "Read"})
            async with store.unit_of_work(people.alice) as uow:
                await apikeys.revoke_api_key(uow, keys["alice"].split("_")[1])
            with pytest.raises(MCPError):
                await session.call_tool("tool_stats", {})
        response = await http.post(f"{live.base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                   headers={"Accept": "application/json, text/event-stream"})
        assert response.status_code == 401 and "invalid_token" in response.headers["www-authenticate"]
        with pytest.raises(Exception) as refused:
            async with connect("sse", live.base, keys["alice"]):
                pass
        assert "401" in str(_leaf(refused.value))


async def test_an_unknown_host_header_is_refused(live, keys):
    """DNS-rebinding protection: a page on evil.example cannot drive the local server."""
    async with httpx.AsyncClient(base_url=live.base) as http:
        response = await http.post("/mcp", headers={"Host": "evil.example", "Authorization": f"Bearer {keys['alice']}",
                                                    "Accept": "application/json, text/event-stream"},
                                    json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 421


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
