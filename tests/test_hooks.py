"""Claude Code hooks over HTTP: the 13 payloads of tests/fixtures/hooks give tests/fixtures/EXPECTED.md §4, always a 204 with an
empty body, idempotent on re-delivery; prompt text never stored."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from rest_support import bearer
from fortium_metrics.store.models import AgentSession, MetricEvent
from fixture_paths import HOOKS

pytestmark = pytest.mark.anyio
ORDER = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStart",
         "SubagentStop", "Notification", "PreCompact", "PostCompact", "Stop", "StopFailure", "SessionEnd"]


async def post_all(api, key) -> list:
    responses = []
    for name in ORDER:
        body = (HOOKS / f"{name}.json").read_bytes()
        responses.append(await api.post("/api/v1/hooks/claude-code", content=body,
                                        headers={"Content-Type": "application/json", **bearer(key)}))
    return responses


async def test_the_sample_hooks_give_the_expected_metrics(api, keys, store, people):
    for _ in range(2):  # Claude Code may deliver again: counted once
        responses = await post_all(api, keys["alice"])
        assert {(r.status_code, r.content) for r in responses} == {(204, b"")}
    async with store.unit_of_work(people.alice) as uow:
        session = await uow.session.scalar(select(AgentSession))
        tools = (await uow.session.execute(select(MetricEvent.name, MetricEvent.success, MetricEvent.duration_ms)
                                           .where(MetricEvent.kind == "tool_execution").order_by(MetricEvent.name))).all()
        kinds = dict((await uow.session.execute(select(MetricEvent.kind, func.count()).group_by(MetricEvent.kind))).all())
        raw = dict((await uow.session.execute(select(MetricEvent.name, func.count()).where(MetricEvent.kind == "other")
                                              .group_by(MetricEvent.name))).all())
        agent = await uow.session.scalar(select(MetricEvent).where(MetricEvent.kind == "agent_invocation"))
        stored = json.dumps([e.attributes for e in await uow.session.scalars(select(MetricEvent))])
    assert session.id == "a4c2e8f0-1d3b-4a5c-8e7f-9b0a1c2d3e4f" and session.ended_at is not None
    assert session.attributes["model"] == "claude-sonnet-4-5-20250929"
    assert tools == [("Bash", False, 4187.0), ("Edit", True, 14.0)]
    assert kinds["prompt"] == 1 and kinds["agent_invocation"] == 1
    assert (agent.name, agent.attributes["agent_id"]) == ("Explore", "b7c1d9e3f5a20468")
    assert raw == {"turn.completed": 1, "turn.failed": 1, "compaction": 1, "notification": 1, "subagent.start": 1}
    prompt = json.loads((HOOKS / "UserPromptSubmit.json").read_text())["prompt"]
    assert prompt not in stored and "validateEmail(email)" not in stored


async def test_unknown_hook_events_are_kept_raw(api, keys, store, people):
    response = await api.post("/api/v1/hooks/claude-code", json={"hook_event_name": "BrandNewHook", "session_id": "s"},
                              headers=bearer(keys["alice"]))
    assert response.status_code == 204
    async with store.unit_of_work(people.alice) as uow:
        assert await uow.session.scalar(select(MetricEvent.name)) == "hook.BrandNewHook"


async def test_bad_credentials_and_garbage_are_non_2xx(api, keys):
    assert (await api.post("/api/v1/hooks/claude-code", json={"hook_event_name": "Stop"})).status_code == 401
    garbage = await api.post("/api/v1/hooks/claude-code", content=b"{oops", headers={"Content-Type": "application/json", **bearer(keys["alice"])})
    assert garbage.status_code in (400, 422) and garbage.json()["error"]["field"] == "body"


async def test_charlie_sees_none_of_alices_hooks(api, keys, store, people):
    await post_all(api, keys["alice"])
    async with store.unit_of_work(people.charlie) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(MetricEvent)) == 0


async def test_a_redelivered_session_end_does_not_move_the_sessions_end(api, keys, store, people):
    """Issue 12, item 11: a hook carries no time, so each delivery was stamped when it arrived and
    the same SessionEnd posted again moved `ended_at`. It is one event, counted once."""
    body = (HOOKS / "SessionEnd.json").read_bytes()
    headers = {"Content-Type": "application/json", **bearer(keys["alice"])}

    async def ended_at():
        async with store.unit_of_work(people.alice) as uow:
            return (await uow.session.scalar(select(AgentSession))).ended_at

    assert (await api.post("/api/v1/hooks/claude-code", content=body, headers=headers)).status_code == 204
    first = await ended_at()
    for _ in range(2):
        assert (await api.post("/api/v1/hooks/claude-code", content=body, headers=headers)).status_code == 204
        assert await ended_at() == first
    later = json.loads(body) | {"reason": "logout"}  # a different end of the same session is news
    assert (await api.post("/api/v1/hooks/claude-code", json=later, headers=headers)).status_code == 204
    assert await ended_at() > first
