"""The ingestion service: validation, dedup, durability, sessions, resolution, tenancy."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from fortium_metrics import teams
from fortium_metrics.errors import Forbidden, Invalid
from fortium_metrics.events import dedup_key, event_adapter
from fortium_metrics.ingest import MAX_BATCH, Ingestor, record_events
from fortium_metrics.web.api import parse_valid_batch
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import AgentSession, MetricEvent, Organization, Project, User

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def ingestor(store):
    ingestor = Ingestor(store)
    yield ingestor
    await ingestor.close()


def tool(i: int, **extra) -> dict:
    return {"type": "tool_execution", "tool_name": "Read", "duration_ms": i, "timestamp": (T0 + timedelta(seconds=i)).isoformat(), **extra}


async def count(store, principal, kind=None) -> int:
    async with store.unit_of_work(principal) as uow:
        query = select(func.count()).select_from(MetricEvent)
        if kind:
            query = query.where(MetricEvent.kind == kind)
        return await uow.session.scalar(query)


async def test_every_event_type_is_stored(store, ingestor, people):
    items = [
        {"type": "session_start", "session_id": "s1", "timestamp": T0.isoformat()},
        tool(1, session_id="s1"),
        {"type": "agent_invocation", "agent_name": "code-reviewer", "duration_ms": 900, "input_tokens": 10, "output_tokens": 5},
        {"type": "command", "command_name": "/review", "duration_ms": 50, "success": False, "error": "boom"},
        {"type": "task", "task_name": "write tests", "status": "completed"},
        {"type": "productivity_metric", "metric": "productivity_score", "value": 7.5},
        {"type": "token_usage", "model": "claude-sonnet-4-5", "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.01},
        {"type": "code_change", "lines_added": 12, "lines_removed": 3, "commit": "abc123"},
        {"type": "session_end", "session_id": "s1", "timestamp": (T0 + timedelta(hours=1)).isoformat()},
    ]
    result = await record_events(ingestor, people.bob, items, "test")
    assert (result.accepted, result.duplicates, result.rejected) == (9, 0, 0)
    async with store.unit_of_work(people.bob) as uow:
        kinds = dict((await uow.session.execute(select(MetricEvent.kind, func.count()).group_by(MetricEvent.kind))).all())
        session = await uow.session.scalar(select(AgentSession))
        command = await uow.session.scalar(select(MetricEvent).where(MetricEvent.kind == "command"))
    assert kinds == {"tool_execution": 1, "agent_invocation": 1, "command": 1, "task": 1,
                     "productivity_metric": 1, "token_usage": 1, "code_change": 1}
    assert session.ended_at - session.started_at == timedelta(hours=1)
    assert session.user_id == people.bob.user_id
    assert (command.success, command.attributes["error"], command.user_id) == (False, "boom", people.bob.user_id)


async def test_resending_counts_once(store, ingestor, people):
    items = [tool(i) for i in range(10)] + [tool(99, event_id="client-1")]
    first = await record_events(ingestor, people.alice, items, "test")
    again = await record_events(ingestor, people.alice, items + [tool(100)], "test")
    assert (first.accepted, first.duplicates) == (11, 0)
    assert (again.accepted, again.duplicates) == (1, 11)
    assert await count(store, people.alice) == 12
    # Same client id, different content: still the same event.
    renamed = await record_events(ingestor, people.alice, [tool(5, event_id="client-1", tool_name="Edit")], "test")
    assert renamed.duplicates == 1


async def test_the_same_event_twice_in_one_batch_counts_once(ingestor, people, store):
    result = await record_events(ingestor, people.alice, [tool(1), tool(1)], "test")
    assert (result.accepted, result.duplicates) == (1, 1)


async def test_concurrent_requests_are_group_committed_and_all_acknowledged(store, ingestor, people):
    results = await asyncio.gather(*[
        record_events(ingestor, people.alice, [tool(i * 100 + j) for j in range(20)], "test") for i in range(25)])
    assert sum(r.accepted for r in results) == 500
    assert await count(store, people.alice) == 500


async def test_bad_items_are_reported_by_index_and_good_ones_kept(store, ingestor, people):
    items = [
        tool(1),
        {"type": "tool_execution", "duration_ms": "slow"},
        {"type": "no_such_type"},
        "not an object",
        tool(2, bogus=True),
        {"type": "tool_execution", "tool_name": "Read", "duration_ms": -5},
        tool(3),
    ]
    result = await record_events(ingestor, people.alice, items, "test")
    assert (result.accepted, result.rejected) == (2, 5)
    by_index = {}
    for error in result.errors:
        by_index.setdefault(error.index, []).append(error)
    assert sorted(by_index) == [1, 2, 3, 4, 5]
    fields = {e.field for e in by_index[1]}
    assert {"tool_name", "duration_ms"} <= fields
    assert "unknown event type 'no_such_type'" in by_index[2][0].message
    assert by_index[4][0].field == "bogus"
    assert "greater than or equal to 0" in by_index[5][0].message
    assert await count(store, people.alice) == 2


async def test_oversized_batch_is_refused_whole(ingestor, people):
    with pytest.raises(Invalid, match=f"at most {MAX_BATCH}"):
        await record_events(ingestor, people.alice, [tool(i) for i in range(MAX_BATCH + 1)], "test")


async def test_ingest_needs_the_ingest_scope(ingestor, people):
    reader = Principal(people.org_a, people.bob.user_id, "developer", frozenset({"read"}), "api_key")
    with pytest.raises(Forbidden):
        await record_events(ingestor, reader, [tool(1)], "test")


async def test_users_are_resolved_by_email_and_unknown_ones_created(store, ingestor, people):
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest", "admin"}), "api_key")
    result = await record_events(ingestor, org_key, [tool(1, user="alice@a.test"), tool(2, user="newbie@a.test"),
                                                     tool(3, user="gh:octocat")], "test")
    assert result.accepted == 3
    async with store.unit_of_work(people.alice) as uow:
        emails = set(await uow.session.scalars(select(User.email)))
        owners = set(await uow.session.scalars(select(MetricEvent.user_id)))
    assert {"alice@a.test", "newbie@a.test"} <= emails and len(owners) == 3


async def test_external_ids_are_distinct_users_and_what_cannot_be_stored_is_rejected_alone(store, ingestor, people):
    """Users created just in time from external ids that slugify alike ("Foo Bar", "foo-bar") are
    two users; an id longer than the column is rejected by itself, and a long e-mail becomes a
    user whose name is cut to fit."""
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest", "admin"}), "api_key")
    long_email = "x" * 60 + "@" + "d" * 200 + ".test"
    items = [tool(1, user="Foo Bar"), tool(2, user="foo-bar"), tool(3, user="e" * 300), tool(4, user=long_email)]
    result = await record_events(ingestor, org_key, items, "test")
    assert (result.accepted, [(e.index, e.field) for e in result.errors]) == (3, [(2, "user")])
    async with store.unit_of_work(people.alice) as uow:
        owners = dict((await uow.session.execute(
            select(MetricEvent.duration_ms, User.external_id).join(User, User.id == MetricEvent.user_id))).all())
        name = await uow.session.scalar(select(User.name).where(User.email == long_email))
    assert owners == {1.0: "Foo Bar", 2.0: "foo-bar", 4.0: None} and name == long_email[:200]


async def test_unknown_users_are_rejected_when_the_organisation_says_so(store, ingestor, people):
    async with store.unit_of_work(people.alice) as uow:
        org = await uow.session.scalar(select(Organization))
        org.settings = {"unknown_users": "reject"}
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest"}), "api_key")
    result = await record_events(ingestor, org_key, [tool(1, user="stranger@a.test"), tool(2, user="bob@a.test")], "test")
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.errors[0].field == "user" and result.errors[0].index == 0


async def test_a_users_key_cannot_record_for_someone_else(ingestor, people):
    result = await record_events(ingestor, people.bob, [tool(1, user="alice@a.test")], "test")
    assert result.rejected == 1 and "own user" in result.errors[0].message


async def test_teams_must_exist_and_projects_are_created(store, ingestor, people):
    async with store.unit_of_work(people.alice) as uow:
        await teams.create_team(uow, "Platform")
    result = await record_events(ingestor, people.alice, [tool(1, team="platform", project="repo-x"), tool(2, team="nope")], "test")
    assert (result.accepted, result.rejected) == (1, 1) and result.errors[0].field == "team"
    async with store.unit_of_work(people.alice) as uow:
        assert await uow.session.scalar(select(Project.name)) == "repo-x"


async def test_charlie_cannot_record_into_org_a_or_see_it(store, ingestor, people):
    await record_events(ingestor, people.alice, [tool(1), tool(2)], "test")
    result = await record_events(ingestor, people.charlie, [tool(1, team="platform")], "test")
    assert result.rejected == 1  # org A's teams do not exist for Charlie
    await record_events(ingestor, people.charlie, [tool(1)], "test")
    assert await count(store, people.charlie) == 1
    assert await count(store, people.alice) == 2


async def test_sessions_are_idempotent(store, ingestor, people):
    start = {"type": "session_start", "session_id": "s9", "timestamp": T0.isoformat()}
    end = {"type": "session_end", "session_id": "s9", "timestamp": (T0 + timedelta(minutes=5)).isoformat()}
    assert (await record_events(ingestor, people.bob, [end], "t")).accepted == 1  # end first: out of order
    assert (await record_events(ingestor, people.bob, [start], "t")).accepted == 1
    again = await record_events(ingestor, people.bob, [start, end], "t")
    assert again.duplicates == 2
    async with store.unit_of_work(people.bob) as uow:
        session = await uow.session.scalar(select(AgentSession))
    assert (session.started_at, session.ended_at) == (T0, T0 + timedelta(minutes=5))


async def test_an_api_request_from_two_sources_counts_once(store, ingestor, people):
    """OTLP and a transcript report the same request with different timestamps and ids."""
    otlp = {"type": "api_request", "request_id": "req_1", "model": "m", "input_tokens": 5, "output_tokens": 7,
            "cost_usd": 0.1, "timestamp": T0.isoformat(), "event_id": "otlp-seq-3"}
    transcript = {**otlp, "timestamp": (T0 + timedelta(milliseconds=850)).isoformat(), "event_id": "line-42",
                  "cache_write_1h_tokens": 10, "cache_write_5m_tokens": 2}
    first = await record_events(ingestor, people.alice, [otlp], "otlp")
    second = await record_events(ingestor, people.alice, [transcript], "transcript")
    assert (first.accepted, second.duplicates) == (1, 1)
    async with store.unit_of_work(people.alice) as uow:
        row = await uow.session.scalar(select(MetricEvent).where(MetricEvent.kind == "api_request"))
    assert (row.input_tokens, row.output_tokens, row.source) == (5, 7, "otlp")


async def test_prompts_keep_only_their_length_and_raw_events_are_kept(store, ingestor, people):
    result = await record_events(ingestor, people.alice, [
        {"type": "prompt", "prompt_length": 61},
        {"type": "prompt", "prompt_length": 3, "text": "secret"},
        {"type": "raw", "name": "claude_code.mystery", "value": 2, "attributes": {"k": "v"}},
        {"type": "tool_execution", "tool_name": "post", "success": None},
    ], "test")
    assert (result.accepted, result.rejected, result.errors[0].field) == (3, 1, "text")
    async with store.unit_of_work(people.alice) as uow:
        rows = {r.kind: r for r in await uow.session.scalars(select(MetricEvent))}
    assert rows["prompt"].value == 61 and rows["other"].name == "claude_code.mystery"
    assert rows["tool_execution"].success is None


async def test_two_writers_creating_the_same_project_and_user_at_once_both_succeed(store, people, backend):
    """Two processes (two engines) resolving a new project and user at the same moment."""
    from fortium_metrics.store.engine import create_engine
    from fortium_metrics.store.uow import Store

    other_store = Store(create_engine(backend.url))
    first, second = Ingestor(store), Ingestor(other_store)
    org_key = Principal(people.org_a, None, "admin", frozenset({"ingest", "admin"}), "api_key")
    try:
        for round_ in range(3):
            results = await asyncio.gather(*[
                record_events(ingestor, org_key, [tool(10 * round_ + n, project=f"racy-{round_}", user=f"new{round_}@a.test")], "t")
                for n, ingestor in enumerate((first, second))])
            assert [r.accepted for r in results] == [1, 1]
    finally:
        await first.close()
        await second.close()
        await other_store.dispose()
    async with store.unit_of_work(people.alice) as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Project)) == 3
        assert await uow.session.scalar(select(func.count()).select_from(User).where(User.email.like("new%"))) == 3


def test_every_timestamp_form_becomes_the_same_utc_instant_with_one_dedup_key():
    """Z, +00:00, another offset and no offset (UTC) name one instant: one dedup key, whether
    the event is validated from Python values or straight from JSON bytes (the REST fast path)."""
    base = {"type": "task", "task_name": "deploy"}
    forms = ["2026-11-20T12:00:00Z", "2026-11-20T12:00:00+00:00", "2026-11-20T14:00:00+02:00", "2026-11-20T12:00:00"]
    events = [event_adapter.validate_python({**base, "timestamp": form}) for form in forms]
    assert {event.timestamp for event in events} == {T0}
    assert all(event.timestamp.utcoffset() == timedelta(0) for event in events)
    assert len({dedup_key(event) for event in events}) == 1
    from_bytes = parse_valid_batch(json.dumps({"events": [{**base, "timestamp": form} for form in forms]}).encode())
    assert [dedup_key(event) for event in from_bytes] == [dedup_key(event) for event in events]
    assert parse_valid_batch(b'{"events": [{"type": "task"}]}') is None  # invalid: the caller names the error


async def test_nul_characters_become_replacement_characters_and_the_event_is_kept(store, ingestor, people):
    """PostgreSQL text and jsonb cannot hold U+0000; an event carrying one is stored with U+FFFD
    in its place (fields, attribute keys and nested values, the names it resolves), and re-sent
    it is the same event."""
    items = [tool(1, tool_name="Re\x00ad", event_id="nul\x00-1", project="p\x00",
                  attributes={"out\x00": ["a\x00b", {"deep": "\x00"}]}),
             {"type": "session_start", "session_id": "s\x00", "attributes": {"cwd": "/tmp/\x00"}}]
    first = await record_events(ingestor, people.bob, items, "test")
    assert (first.accepted, first.rejected) == (2, 0)
    assert (await record_events(ingestor, people.bob, items, "test")).duplicates == 2
    async with store.unit_of_work(people.bob) as uow:
        row = await uow.session.scalar(select(MetricEvent))
        session = await uow.session.scalar(select(AgentSession))
        project = await uow.session.scalar(select(Project.name))
    assert (row.name, row.dedup_key, project) == ("Re\ufffdad", "id:nul\ufffd-1", "p\ufffd")
    assert row.attributes == {"out\ufffd": ["a\ufffdb", {"deep": "\ufffd"}]}
    assert (session.id, session.attributes) == ("s\ufffd", {"cwd": "/tmp/\ufffd"})


def test_a_batch_body_holding_an_escaped_nul_leaves_the_fast_path():
    clean = json.dumps({"events": [tool(1)]}).encode()
    assert parse_valid_batch(clean) is not None
    assert parse_valid_batch(json.dumps({"events": [tool(1, tool_name="a\x00")]}).encode()) is None


async def test_values_the_database_would_refuse_or_corrupt_are_rejected_one_by_one(store, ingestor, people):
    """Each is refused by itself, naming its field; the others in the call (and in the same group
    transaction) are stored. Without this, an integer beyond int4 wraps around in a binary COPY,
    one beyond 64 bits aborts the transaction, and an infinity breaks every JSON answer summing it."""
    items = [tool(1, event_id="fine"),
             {"type": "token_usage", "model": "m", "cost_usd": float("inf")},
             {"type": "productivity_metric", "metric": "m", "value": float("nan")},
             {"type": "code_change", "lines_added": 2**31},
             tool(2, attributes={"huge": 10**30}),
             {"type": "session_start", "session_id": "s-inf", "attributes": {"x": float("inf"), "y": [float("nan")]}}]
    result = await record_events(ingestor, people.bob, items, "test")
    assert (result.accepted, result.rejected) == (2, 4)
    assert [(e.index, e.field) for e in result.errors] == [(1, "cost_usd"), (2, "value"), (3, "lines_added"), (4, "attributes")]
    assert "finite" in result.errors[0].message and "64-bit" in result.errors[3].message
    async with store.unit_of_work(people.bob) as uow:
        session = await uow.session.scalar(select(AgentSession))
    assert await count(store, people.bob) == 1 and session.attributes == {"x": None, "y": [None]}


async def test_timestamps_beyond_the_calendar_in_utc_and_too_deep_attributes_are_rejected_alone(store, ingestor, people):
    deep = {}
    for _ in range(300):
        deep = {"a": deep}
    items = [tool(1, timestamp="9999-12-31T23:00:00-05:00"), tool(2, timestamp="0001-01-01T00:00:00+05:00"),
             tool(3, attributes=deep), tool(4, timestamp="9999-12-31T23:59:59Z"), {"type": "x" * 1000}]
    result = await record_events(ingestor, people.bob, items, "test")
    assert (result.accepted, [(e.index, e.field) for e in result.errors]) == (
        1, [(0, "timestamp"), (1, "timestamp"), (2, "attributes"), (4, "type")])
    assert "UTC" in result.errors[0].message and len(result.errors[3].message) < 100
