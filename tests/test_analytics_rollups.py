"""The rollups answer exactly as the raw events do: hypothesis draws windows (aligned to days,
hours or nothing), filters, groupings and measures, and each answer from the rollups is compared
with the same query answered from the raw events only — on SQLite and PostgreSQL, in time zones
with whole-hour, half-hour and daylight-saving offsets (the data spans the 2026-11-01 DST end).

The data is ingested through the normal path in several batches (late history included, a batch
re-sent), so the rollups under test are the ones maintained as events are written.
"""
from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fortium_metrics import analytics, orgs, teams, users
from fortium_metrics.analytics import AnalyticsQuery
from fortium_metrics.analytics.catalogue import PUBLIC_MEASURES
from fortium_metrics.analytics.rollups import rebuild
from fortium_metrics.ingest import Ingestor, record_events
from fortium_metrics.principal import Principal

pytestmark = pytest.mark.anyio
START = datetime(2026, 10, 29, 3, 0, tzinfo=timezone.utc)
DAYS = 6
PEOPLE = ("alice@a.test", "bob@a.test", "dana@a.test")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5")
TOOLS = ("Read", "Edit", "Bash", "Grep", "mcp__github__create_issue", "mcp__jira__search")
PROJECTS = ("web-app", "payments-api", "infra")
SOURCES = ("rest", "otlp", "hook")
DIMENSIONS = ("day", "hour", "week", "month", "team", "user", "project", "model", "tool", "agent", "mcp_server",
              "source", "session", "command", "language", "department")
EXAMPLES = int(os.environ.get("FORTIUM_HYPOTHESIS_EXAMPLES", "25"))


def _pick(rng: random.Random, values: tuple):
    """Skewed towards the first values, so that later batches add to cells earlier ones made."""
    return rng.choices(values, weights=[2 ** (len(values) - i) for i in range(len(values))])[0]


def _event(rng: random.Random, at: datetime) -> dict:
    common = {"timestamp": at.isoformat(), "user": _pick(rng, PEOPLE), "session_id": f"s{rng.randrange(8)}",
              "project": _pick(rng, PROJECTS)}
    if rng.random() < 0.1:
        common["attributes"] = {"labels": {"department": rng.choice(("eng", "sales"))}}
    kind = rng.choice(("tool", "tool", "request", "request", "prompt", "agent", "code", "decision", "metric", "other",
                       "error", "task"))
    if kind == "tool":
        return {**common, "type": "tool_execution", "tool_name": _pick(rng, TOOLS),
                "duration_ms": rng.choice((None, 0.4, 1, 16, rng.uniform(1, 90_000))),
                "success": rng.choice((True, True, False, None))}
    if kind == "request":
        five, hour = rng.randrange(2000), rng.choice((0, rng.randrange(3000)))
        return {**common, "type": "api_request", "model": _pick(rng, MODELS), "input_tokens": rng.randrange(500),
                "output_tokens": rng.randrange(2000), "cache_read_tokens": rng.randrange(20000),
                "cache_write_5m_tokens": five, "cache_write_1h_tokens": hour, "cost_usd": rng.uniform(0, 0.2),
                "agent": _pick(rng, (None, "Explore")), "attributes": {
                    **common.get("attributes", {}), "mcp_server.name": _pick(rng, (None, "github"))}}
    if kind == "prompt":
        return {**common, "type": "prompt", "prompt_length": rng.randrange(300),
                "command_name": rng.choice((None, None, "/review"))}
    if kind == "agent":
        return {**common, "type": "agent_invocation", "agent_name": rng.choice(("Explore", "code-reviewer")),
                "success": rng.choice((True, False, None)), "duration_ms": rng.uniform(100, 60_000)}
    if kind == "code":
        return {**common, "type": "code_change", "lines_added": rng.randrange(200), "lines_removed": rng.randrange(50),
                "language": rng.choice(("python", "typescript"))}
    if kind == "decision":
        return {**common, "type": "tool_decision", "tool_name": rng.choice(("Edit", "Write", "Bash")),
                "decision": rng.choice(("accept", "accept", "reject"))}
    if kind == "metric":
        return {**common, "type": "productivity_metric", "metric": rng.choice(("commits", "active_time.user")),
                "value": rng.choice((1, 2, 12.5))}
    if kind == "error":
        return {**common, "type": "api_error", "model": rng.choice(MODELS), "status_code": 529}
    if kind == "task":
        return {**common, "type": "task", "task_name": "t", "status": rng.choice(("completed", "failed"))}
    return {**common, "type": "raw", "name": rng.choice(("compaction", "turn.completed", "notification"))}


def _times(rng: random.Random, n: int) -> list[datetime]:
    """Mostly anywhere in the span; some on the hour, on a quarter hour, or on a second's edge."""
    found = []
    for _ in range(n):
        at = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        roll = rng.random()
        if roll < 0.1:
            at = at.replace(minute=0, second=0)
        elif roll < 0.2:
            at = at.replace(minute=30, second=0)
        found.append(at)
    return found


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Kolkata"])
async def world(request, store):
    """One organisation in time zone `param`, its data ingested in batches through the ingestor."""
    tz = request.param
    async with store.unit_of_work(Principal.system("test")) as uow:
        org = await orgs.create_organization(uow, "Rollups", f"rollups-{random.getrandbits(32):08x}")
    admin = Principal.org_admin(org.id)
    async with store.unit_of_work(admin) as uow:
        await orgs.update_settings(uow, timezone=tz, min_group_size=1)
        for email in PEOPLE:
            await users.create_user(uow, email, email.split("@")[0], "developer")
        await teams.create_team(uow, "Platform")
        await teams.add_member(uow, "platform", "bob@a.test", "lead")
    await rebuild(store, [org.id])  # rollups current for the new time zone (no events yet)
    rng = random.Random(f"{tz}-{store.dialect}")
    events = [_event(rng, at) for at in _times(rng, 400)]
    key = Principal(org.id, None, "admin", frozenset({"ingest", "read", "admin"}), "api_key")
    ingestor = Ingestor(store)
    try:
        # Many batches, so later ones add to cells earlier ones created; one batch re-sent.
        cuts = sorted(rng.sample(range(1, len(events)), 24))
        batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)])] + [events[:40]]
        for batch in batches:
            result = await record_events(ingestor, key, batch, rng.choice(SOURCES[:2]))
            assert result.rejected == 0, result.errors
    finally:
        await ingestor.close()
    return org.id, tz


def _queries():
    windows = st.tuples(st.integers(-4 * 24, (DAYS + 1) * 4 * 24), st.integers(1, (DAYS + 2) * 4 * 24),
                        st.sampled_from(("quarter", "quarter", "second")), st.integers(0, 899))
    return st.fixed_dictionaries({
        # Often every measure at once, so a wrong one cannot hide behind the ones drawn.
        "measures": st.one_of(st.just(list(PUBLIC_MEASURES)),
                              st.lists(st.sampled_from(PUBLIC_MEASURES), min_size=1, max_size=5, unique=True)),
        "group_by": st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique=True).filter(
            lambda g: len(set(g) & {"day", "hour", "week", "month"}) <= 1),
        "filters": st.dictionaries(st.sampled_from(("model", "tool", "user", "project", "source", "team", "department")),
                                   st.sampled_from(("first", "second", "both")), max_size=2),
        "window": windows,
        "compare": st.sampled_from((None, "previous")),
    })


_VALUES = {"model": MODELS[:2], "tool": TOOLS[3:5], "user": PEOPLE[1:], "project": PROJECTS[:2], "source": SOURCES[:2],
           "team": ("platform", "platform"), "department": ("eng", "sales")}


def _query(drawn: dict) -> AnalyticsQuery:
    quarters, length, edge, seconds = drawn["window"]
    start = START + timedelta(minutes=15 * quarters) + (timedelta(seconds=seconds) if edge == "second" else timedelta())
    end = start + timedelta(minutes=15 * length)
    filters = {name: list(_VALUES[name][:1] if pick == "first" else _VALUES[name][1:2] if pick == "second"
                          else _VALUES[name]) for name, pick in drawn["filters"].items()}
    return AnalyticsQuery(measures=drawn["measures"], group_by=drawn["group_by"], filters=filters, start=start,
                          end=end, compare=drawn["compare"], limit=10_000)


def _same(rolled: dict, raw: dict, where: str) -> None:
    assert rolled.keys() == raw.keys(), where
    for name, value in raw.items():
        if isinstance(value, float) or isinstance(rolled[name], float):
            assert rolled[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (where, name)
        else:
            assert rolled[name] == value, (where, name)


def _keyed(result) -> dict:
    return {tuple(row[g] for g in result.group_by): row for row in result.rows}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=_queries())
async def test_rollups_answer_every_query_as_the_raw_events_do(store, world, drawn):
    org, _tz = world
    q = _query(drawn)
    async with store.unit_of_work(Principal.org_admin(org)) as uow:
        rolled = await analytics.query(uow, q)
        raw = await analytics.query(uow, q, use_rollups=False)
        # A grouped question adds its totals up from its groups: they must be the ungrouped answer.
        whole = await analytics.query(uow, q.model_copy(update={"group_by": []})) if q.group_by else rolled
    assert set(raw.sources.values()) == {"metric_events"}
    _same(rolled.totals, raw.totals, "totals")
    _same(rolled.totals, whole.totals, "totals without group_by")
    if q.compare:
        _same(rolled.previous, raw.previous, "previous")
        _same(rolled.previous, whole.previous, "previous without group_by")
    rolled_rows, raw_rows = _keyed(rolled), _keyed(raw)
    assert rolled_rows.keys() == raw_rows.keys()
    for key, row in raw_rows.items():
        _same(rolled_rows[key], row, f"row {key}")


async def test_a_grouped_questions_totals_are_the_ungrouped_answer(store, world):
    """Sums, maxima and duration histograms of a grouped question are added up from its groups
    (only distinct counts are asked again): every measure, by dimensions that split the events
    into many groups, against the same question without group_by, on both periods."""
    org, _tz = world
    start = START + timedelta(hours=7, minutes=30)  # hours and raw edges as well as whole days
    async with store.unit_of_work(Principal.org_admin(org)) as uow:
        for group in (["tool"], ["team"], ["day"], ["hour"], ["model", "user"], ["department"], ["session"]):
            grouped = await analytics.query(uow, AnalyticsQuery(
                measures=list(PUBLIC_MEASURES), group_by=group, start=start, end=start + timedelta(days=3),
                compare="previous", limit=10_000))
            whole = await analytics.query(uow, AnalyticsQuery(
                measures=list(PUBLIC_MEASURES), start=start, end=start + timedelta(days=3), compare="previous"))
            assert len(grouped.rows) >= 2, group
            _same(grouped.totals, whole.totals, f"totals by {group}")
            _same(grouped.previous, whole.previous, f"previous by {group}")


async def test_whole_days_are_read_from_the_smallest_cube_that_has_what_is_asked(store, world):
    org, tz = world
    day = datetime(2026, 10, 30, tzinfo=timezone.utc)
    asked = {
        ("cost_usd",): ((), {"sum": "rollup_daily_lite"}),
        ("lines_added",): (("project",), {"sum": "rollup_daily_org"}),
        ("sessions", "active_users"): ((), {"distinct": "rollup_presence"}),
        ("tool_duration_p95_ms",): (("tool",), {"percentile": "rollup_tool_durations_lite"}),
        ("tool_duration_p50_ms",): (("team",), {"percentile": "rollup_tool_durations_team"}),
        ("tool_duration_max_ms",): (("source",), {"sum": "rollup_daily_lite"}),
        ("tool_executions",): (("hour",), {"sum": "rollup_hourly"}),
        ("active_users",): (("model",), {"distinct": "rollup_daily"}),
        ("sessions",): (("model",), {"distinct": "rollup_hourly"}),
    }
    async with store.unit_of_work(Principal.org_admin(org)) as uow:
        for measures, (group, sources) in asked.items():
            result = await analytics.query(uow, AnalyticsQuery(measures=list(measures), group_by=list(group),
                                                               start=day, end=day + timedelta(days=3)))
            assert result.sources == sources, (measures, group)

