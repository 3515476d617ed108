"""`fortium-metrics demo`: a realistic organisation through the normal ingestion path —
structure, sources, idempotency and tenancy, on both databases."""
from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from fortium_metrics import orgs
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.demo import DEMO_PASSWORD, fill_demo
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import AgentSession, MetricEvent, Team, TeamMembership, User

pytestmark = pytest.mark.anyio
TODAY = date(2026, 11, 30)


@pytest.fixture
async def ctx(store, backend, tmp_path):
    context = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "d"), store=store)
    yield context
    await context.close(dispose_store=False)


async def _org_id(store, slug):
    async with store.unit_of_work(Principal.system("test")) as uow:
        return (await orgs.get_by_slug(uow, slug)).id


async def _snapshot(store, org_id) -> dict:
    async with store.unit_of_work(Principal.org_admin(org_id)) as uow:
        session = uow.session
        kinds = Counter({(kind, source): n for kind, source, n in await session.execute(
            select(MetricEvent.kind, MetricEvent.source, func.count()).group_by(MetricEvent.kind, MetricEvent.source))})
        return {"kinds": kinds,
                "sessions": await session.scalar(select(func.count()).select_from(AgentSession)),
                "ended": await session.scalar(select(func.count()).select_from(AgentSession)
                                              .where(AgentSession.ended_at.is_not(None))),
                "roles": Counter(await session.scalars(select(User.role))),
                "teams": sorted(await session.scalars(select(Team.slug))),
                "leads": await session.scalar(select(func.count()).select_from(TeamMembership)
                                              .where(TeamMembership.role == "lead")),
                "names": set(await session.scalars(select(MetricEvent.name).where(MetricEvent.kind == "tool_execution"))),
                "agents": set(await session.scalars(select(MetricEvent.name).where(MetricEvent.kind == "agent_invocation"))),
                "models": set(await session.scalars(select(MetricEvent.model).where(MetricEvent.kind == "api_request")))}


async def test_a_small_demo_has_the_organisation_and_activity_of_a_real_one(store, ctx):
    report = await fill_demo(ctx, "demo-small", days=10, people=8, seed=7, today=TODAY)
    found = await _snapshot(store, await _org_id(store, "demo-small"))
    assert found["teams"] == ["data", "mobile", "payments", "platform"]
    assert found["roles"] == {"admin": 1, "manager": 1, "developer": 6} and found["leads"] == 4
    kinds = {kind for kind, _ in found["kinds"]}
    assert {"tool_execution", "api_request", "prompt", "tool_decision", "agent_invocation", "command", "code_change",
            "api_error", "productivity_metric", "other"} <= kinds
    # Each kind comes from the source that really sends it.
    assert {source for (kind, source) in found["kinds"] if kind in ("api_request", "prompt", "tool_execution")} == {"otlp"}
    assert {source for (kind, source) in found["kinds"] if kind in ("command", "code_change")} == {"mcp"}
    assert {source for (kind, source) in found["kinds"] if kind == "agent_invocation"} == {"hook"}
    assert {"Read", "Edit", "Bash"} <= found["names"] and any(n.startswith("mcp__github__") for n in found["names"])
    assert found["agents"] and found["models"] <= {"claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"}
    # Every session has its start and its end; every stored event was acknowledged once.
    assert found["sessions"] > 0 and found["ended"] == found["sessions"]
    assert report.rejected == 0
    assert report.accepted == sum(found["kinds"].values()) + 2 * found["sessions"]


async def test_running_it_again_doubles_nothing(store, ctx):
    first = await fill_demo(ctx, "demo-again", days=4, people=6, seed=3, today=TODAY)
    before = await _snapshot(store, await _org_id(store, "demo-again"))
    second = await fill_demo(ctx, "demo-again", days=4, people=6, seed=3, today=TODAY)
    assert second.accepted == 0 and second.duplicates == first.accepted > 0
    assert await _snapshot(store, await _org_id(store, "demo-again")) == before


async def _rows(store, org_id) -> dict[str, object]:
    async with store.unit_of_work(Principal.org_admin(org_id)) as uow:
        return dict((await uow.session.execute(select(MetricEvent.dedup_key, MetricEvent.occurred_at))).all())


async def test_a_run_on_a_later_day_only_adds_the_new_day(store, ctx):
    await fill_demo(ctx, "demo-later", days=3, people=5, seed=3, today=date(2026, 11, 30))
    org_id = await _org_id(store, "demo-later")
    before = await _rows(store, org_id)
    later = await fill_demo(ctx, "demo-later", days=3, people=5, seed=3, today=date(2026, 12, 1))
    after = await _rows(store, org_id)
    assert later.duplicates > 0 and later.accepted > 0  # Nov 29 and 30 were recognised, Dec 1 added
    assert before.items() <= after.items()
    assert all(after[key].date() >= date(2026, 12, 1) for key in after.keys() - before.keys())


async def test_it_writes_only_into_its_own_organisation(store, ctx, people):
    others = [people.org_a, people.org_b]
    before = [await _snapshot(store, org) for org in others]
    await fill_demo(ctx, "demo-tenant", days=2, people=5, seed=1, today=TODAY)
    assert [await _snapshot(store, org) for org in others] == before
    demo = await _org_id(store, "demo-tenant")
    assert demo not in others and (await _snapshot(store, demo))["sessions"] > 0


async def test_demo_people_sign_in_with_the_printed_password(store, ctx):
    report = await fill_demo(ctx, "demo-login", days=1, people=4, seed=1, today=TODAY)
    admin = report.people[0]
    pair = await ctx.accounts.login(admin.email, DEMO_PASSWORD, "test")
    assert pair.role == "admin"


def test_the_command_prints_the_people_and_the_password(tmp_path):
    from fortium_metrics.cli import main

    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "demo", "--org", "cli-demo", "--days", "2",
                                       "--people", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert DEMO_PASSWORD in result.output and "cli-demo.example" in result.output and "admin" in result.output
