"""A user's key writes only that user's sessions (issue 12, item 3): an item carrying another
person's session id is rejected naming `session_id` (the rest of its batch is stored), over the
typed REST endpoints, the batch, hooks and OTLP; an organisation key writes for anyone it names.
Both databases."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fixture_paths import HOOKS, OTLP
from fortium_metrics.store.models import AgentSession, MetricEvent
from rest_support import bearer, make_key

pytestmark = pytest.mark.anyio
START, END = "2025-09-15T14:20:31Z", "2025-09-15T15:50:31Z"


async def _session(store, principal, session_id: str) -> tuple:
    async with store.unit_of_work(principal) as uow:
        row = await uow.session.get(AgentSession, (principal.organization_id, session_id))
        events = list(await uow.session.scalars(select(MetricEvent.user_id).where(MetricEvent.session_id == session_id)))
    return (row.user_id, row.started_at, row.ended_at, row.attributes) if row else None, events


async def _alices_session(api, keys, session_id="s-alice") -> None:
    headers = bearer(keys["alice"])
    for path, at in (("start", START), ("end", END)):
        response = await api.post(f"/api/v1/metrics/sessions/{path}", json={"session_id": session_id, "timestamp": at,
                                                                            "attributes": {"who": "alice"}}, headers=headers)
        assert response.status_code == 201, response.text


async def test_another_developer_cannot_start_end_or_add_to_a_session(api, keys, store, people):
    await _alices_session(api, keys)
    before = await _session(store, people.alice, "s-alice")
    bob = bearer(keys["bob"])
    for path, at in (("start", "2000-01-01T00:00:00Z"), ("end", "2030-01-01T00:00:00Z")):
        refused = await api.post(f"/api/v1/metrics/sessions/{path}",
                                 json={"session_id": "s-alice", "timestamp": at, "attributes": {"who": "bob"}}, headers=bob)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "session_id", refused.text
    batch = await api.post("/api/v1/metrics/batch", headers=bob, json={"events": [
        {"type": "tool_execution", "tool_name": "Read", "session_id": "s-alice", "timestamp": START},
        {"type": "tool_execution", "tool_name": "Read", "session_id": "s-bob", "timestamp": START},
        {"type": "session_end", "session_id": "s-alice", "timestamp": END}]})
    body = batch.json()
    assert batch.status_code == 200 and body["accepted"] == 1 and body["rejected"] == 2
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "session_id"), (2, "session_id")]
    assert await _session(store, people.alice, "s-alice") == before  # start, end, attributes, events unchanged
    assert (await _session(store, people.bob, "s-bob"))[1] == [people.bob.user_id]


async def test_an_organisation_key_writes_for_the_person_it_names(api, keys, store, people):
    await _alices_session(api, keys)
    org_key = bearer(await make_key(store, people.org_a, ["ingest"]))
    for_alice = await api.post("/api/v1/metrics/batch", headers=org_key, json={"events": [
        {"type": "tool_execution", "tool_name": "Edit", "session_id": "s-alice", "user": "alice@a.test", "timestamp": START},
        {"type": "tool_execution", "tool_name": "Edit", "session_id": "s-alice", "user": "bob@a.test", "timestamp": START}]})
    assert for_alice.json()["accepted"] == 1 and for_alice.json()["errors"][0]["field"] == "session_id"
    own = await api.post("/api/v1/metrics/sessions/start", headers=org_key,
                         json={"session_id": "s-org-bob", "user": "bob@a.test", "timestamp": START})
    assert own.status_code == 201
    assert (await _session(store, people.bob, "s-org-bob"))[0][0] == people.bob.user_id


async def test_hooks_cannot_end_another_persons_session(api, keys, store, people):
    payload = json.loads((HOOKS / "SessionEnd.json").read_text())
    await _alices_session(api, keys, payload["session_id"])
    before = await _session(store, people.alice, payload["session_id"])
    for name in ("SessionEnd", "PostToolUse"):
        body = json.loads((HOOKS / f"{name}.json").read_text()) | {"session_id": payload["session_id"]}
        await api.post("/api/v1/hooks/claude-code", json=body, headers=bearer(keys["bob"]))
    assert await _session(store, people.alice, payload["session_id"]) == before


async def test_otlp_records_in_another_persons_session_are_rejected(api, keys, store, people):
    logs = (OTLP / "logs.json").read_bytes()
    headers = {"Content-Type": "application/json"}
    for signal in ("metrics", "logs"):  # the metrics' session.count starts alice's session
        sent = await api.post(f"/v1/{signal}", content=(OTLP / f"{signal}.json").read_bytes(),
                              headers={**headers, **bearer(keys["alice"])})
        assert sent.status_code == 200
    async with store.unit_of_work(people.alice) as uow:
        session_id = await uow.session.scalar(select(AgentSession.id))
    before = await _session(store, people.alice, session_id)
    response = await api.post("/v1/logs", content=logs, headers={**headers, **bearer(keys["bob"])})
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) > 0 and "session_id" in partial["errorMessage"]
    assert await _session(store, people.alice, session_id) == before
