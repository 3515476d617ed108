"""The tools, resources and prompts through the SDK's in-memory client (same code path as every
transport), on SQLite and PostgreSQL: results, and errors a model can act on."""
from __future__ import annotations

import json

import pytest
from mcp import Client

from fortium_metrics import teams
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.mcp.server import build_mcp
from fortium_metrics.principal import Principal
from mcp_tools.mcp_support import fails, ok

pytestmark = pytest.mark.anyio


@pytest.fixture
async def context(store, backend, tmp_path):
    ctx = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "data"), store)
    yield ctx
    await ctx.close(dispose_store=False)


@pytest.fixture
async def alice(context, people):
    async with Client(build_mcp(context, people.alice)) as client:
        yield client


async def test_every_tool_describes_itself_and_has_an_output_schema(alice):
    for tool in (await alice.list_tools()).tools:
        assert tool.description and len(tool.description) > 30, tool.name
        assert tool.output_schema is not None, tool.name


def _descriptions(schema, where: str):
    """Every `description` in a JSON schema, with where it sits."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            else:
                yield from _descriptions(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _descriptions(value, f"{where}[{index}]")


async def test_no_description_of_a_tool_parameter_resource_or_prompt_is_indented(alice):
    """What a model reads first: no docstring indentation, no leading or trailing blank lines, and
    short enough to read (the longest tool description fits a screen)."""
    found = []
    for tool in (await alice.list_tools()).tools:
        found += [(tool.name, tool.description), *_descriptions(tool.input_schema, tool.name)]
    found += [(r.uri, r.description) for r in (await alice.list_resources()).resources]
    found += [(t.uri_template, t.description) for t in (await alice.list_resource_templates()).resource_templates]
    for prompt in (await alice.list_prompts()).prompts:
        found += [(prompt.name, prompt.description), *((a.name, a.description) for a in prompt.arguments or [])]
    texts = [(where, text) for where, text in found if text]
    assert len(texts) > 40
    for where, text in texts:
        assert text == text.strip(), where
        assert not any(line.startswith((" ", "\t")) for line in text.splitlines()), (where, text)
        assert len(text) <= 1500, (where, len(text))


async def test_wrong_types_and_missing_fields_name_the_field(alice):
    wrong = await fails(alice, "record_tool_use", {"tool_name": "Read", "duration_ms": "slow"})
    assert "invalid arguments: duration_ms: Input should be a valid number" in wrong and "(got 'slow')" in wrong
    missing = await fails(alice, "record_session_end", {})
    assert "session_id: Field required" in missing and "tools/list" in missing
    negative = await fails(alice, "record_tool_use", {"tool_name": "Read", "duration_ms": -1})
    assert "duration_ms: Input should be greater than or equal to 0" in negative
    bad_enum = await fails(alice, "query_dashboard", {"timeframe": "2w"})
    assert "timeframe: Input should be '1h', '24h', '7d' or '30d'" in bad_enum


async def test_an_unknown_tool_lists_the_available_ones(alice):
    text = await fails(alice, "record_toolz", {})
    assert text.startswith("Unknown tool: record_toolz. Available tools: ") and "record_tool_use" in text


async def test_an_oversized_batch_is_refused_with_the_limit(alice):
    events = [{"type": "task", "task_name": f"t{i}"} for i in range(5001)]
    text = await fails(alice, "record_events", {"events": events})
    assert "at most 5000 events per call (got 5001)" in text
    assert (await ok(alice, "productivity_summary"))["tasks_completed"] == 0


async def test_a_batch_stores_the_valid_events_and_reports_the_others_by_index(alice):
    events = [{"type": "tool_execution", "tool_name": "Read", "event_id": "e-1"},
              {"type": "tool_execution"},
              {"type": "teleport", "to": "mars"},
              {"type": "command", "command_name": "/plan", "event_id": "e-2", "duration_ms": "fast"}]
    result = await ok(alice, "record_events", {"events": events})
    assert (result["accepted"], result["rejected"], result["queued"]) == (1, 3, 0)
    assert [(e["index"], e["field"]) for e in result["errors"]] == [(1, "tool_name"), (2, "type"), (3, "duration_ms")]
    assert "unknown event type 'teleport'" in result["errors"][1]["message"]
    again = await ok(alice, "record_events", {"events": events[:1]})
    assert (again["accepted"], again["duplicates"]) == (0, 1)


async def test_every_record_tool_lands_in_the_summary(alice):
    session_id = (await ok(alice, "record_session_start"))["session_id"]
    common = {"session_id": session_id}
    await ok(alice, "record_command", {"command_name": "/plan", "duration_ms": 900, **common})
    await ok(alice, "record_task", {"task_name": "write tests", "status": "completed", **common})
    await ok(alice, "record_task", {"task_name": "ship", "status": "failed", **common})
    await ok(alice, "record_productivity_metric", {"metric": "productivity_score", "value": 87.5, **common})
    await ok(alice, "record_agent_invocation", {"agent_name": "planner", "success": False, **common})
    summary = await ok(alice, "productivity_summary", {"days": 1})
    assert (summary["sessions"], summary["commands"], summary["tasks_completed"], summary["agent_invocations"]) == (1, 1, 1, 1)
    events = (await ok(alice, "session_metrics", {"session_id": session_id}))["sessions"][0]["events"]
    assert events == {"command": 1, "task": 2, "productivity_metric": 1, "agent_invocation": 1}


async def test_domain_errors_become_actionable_tool_errors(alice, context, people):
    assert "invalid input: team: no team 'nope' in this organisation" in await fails(
        alice, "record_tool_use", {"tool_name": "Read", "team": "nope"})
    assert "not found: session_id: no session 'missing'" in await fails(alice, "session_metrics", {"session_id": "missing"})
    assert "start: must not be after end" in await fails(
        alice, "productivity_summary", {"start": "2026-02-01", "end": "2026-01-01"})
    writer = Principal(people.org_a, people.bob.user_id, "developer", frozenset({"ingest"}), "api_key", "key:w")
    async with Client(build_mcp(context, writer)) as bob:
        text = await fails(bob, "tool_stats")
        assert "forbidden: this credential lacks the 'read' scope" in text and "API key that has this scope" in text
    async with Client(build_mcp(context, None)) as nobody:
        assert "unauthorized: no caller identity" in await fails(nobody, "record_tool_use", {"tool_name": "Read"})


async def test_query_dashboard_renders_json_ascii_and_markdown(alice):
    await ok(alice, "record_command", {"command_name": "/plan"})
    as_json = json.loads((await alice.call_tool("query_dashboard", {"timeframe": "24h"})).content[0].text)
    assert as_json["timeframe"] == "24h" and as_json["metrics"]["commands"] == 1
    ascii_table = (await alice.call_tool("query_dashboard", {"timeframe": "7d", "format": "ascii",
                                                             "metrics": ["commands"]})).content[0].text
    assert ascii_table.splitlines()[-1].split() == ["commands", "1"]
    markdown = (await alice.call_tool("query_dashboard", {"timeframe": "30d", "format": "markdown"})).content[0].text
    assert "| commands | 1 |" in markdown
    assert "unknown bogus. Known: sessions" in await fails(alice, "query_dashboard", {"timeframe": "1h", "metrics": ["bogus"]})


async def test_resources_answer_under_current_and_legacy_uris(alice, store, people):
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Platform")
    await ok(alice, "record_agent_invocation", {"agent_name": "planner", "team": "platform"})
    uris = {str(resource.uri) for resource in (await alice.list_resources()).resources}
    assert {"fortium://dashboard/summary", "fortium://agents/usage", "fortium://teams/performance",
            "metrics://dashboard/current", "metrics://agents/usage", "metrics://teams/performance"} <= uris
    for uri in ("fortium://agents/usage", "metrics://agents/usage"):
        agents = json.loads((await alice.read_resource(uri)).contents[0].text)["agents"]
        assert [(a["name"], a["count"]) for a in agents] == [("planner", 1)]
    performance = json.loads((await alice.read_resource("fortium://teams/performance")).contents[0].text)
    assert [(t["team"], t["agent_invocations"]) for t in performance["teams"]] == [("platform", 1)]
    assert (await alice.read_resource("fortium://dashboard/summary")).contents[0].mime_type == "application/json"


async def test_the_weekly_review_prompt_points_at_the_query_tools(alice):
    prompts = {prompt.name for prompt in (await alice.list_prompts()).prompts}
    assert {"weekly-productivity-review", "analyze-productivity"} <= prompts
    text = (await alice.get_prompt("weekly-productivity-review", {"team": "platform"})).messages[0].content.text
    assert 'productivity_summary(days=7, team="platform")' in text and "tool_stats" in text
    legacy = (await alice.get_prompt("analyze-productivity", {"user_id": "bob@a.test", "days": "14"})).messages[0].content.text
    assert "last 14 days" in legacy


async def test_build_mcp_is_a_factory(context, people):
    first, second = build_mcp(context, people.alice), build_mcp(context, people.charlie)
    assert first is not second and first.name == second.name == "fortium-metrics"
    async with Client(first) as alice, Client(second) as charlie:
        await ok(alice, "record_tool_use", {"tool_name": "Read"})
        assert (await ok(charlie, "tool_stats"))["items"] == []


async def test_a_value_the_database_refuses_is_named_as_invalid_input(alice, backend):
    """PostgreSQL takes no U+0000 in text: the model is told its argument is the problem."""
    text = await fails(alice, "session_metrics", {"session_id": "a\x00b"})
    if backend.name == "postgres":
        assert "invalid input" in text and "NUL" in text and "call again" in text
    else:  # SQLite compares U+0000 like any character: simply no such session
        assert "not found" in text
