"""Analytics benchmark: the dashboard's standard queries on 10M events, from the rollups and from
the raw events, p50/p95 and the ratio, on PostgreSQL and SQLite.

    .venv/bin/python bench/bench_analytics.py --events 10000000 \
        --pg-admin-url postgresql://postgres@127.0.0.1:5432/test --data /tmp/fortium-bench-analytics

One organisation with `--events` events over 90 days (150 people in 8 teams, 10 projects, three
models, fifteen tools, subagents, MCP servers, skills, commits, decisions), plus two other
organisations with a tenth as many each (noise the tenant filter must skip). The rows are written
straight into metric_events (COPY on PostgreSQL), then the rollups are built with the same
`rebuild` the `rollups` job runs; the queries then run as the service does (PostgreSQL: the
non-owner role, row-level security in force). Target: p95 ≤ 100 ms for every 30-day query on
PostgreSQL.

Standard queries (what the overview and the tools page ask):
  kpis      the overview's KPI tiles for the last 30 days, with the previous 30 days
  cost      daily cost by model, 30 days
  tools     top 20 tools by executions with success rate, p50 and p95 durations, 30 days
  teams     team comparison, 90 days
The SQLite file is kept in --data and reused when its manifest matches; the PostgreSQL database
is created, loaded, measured and dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from fortium_metrics import analytics, orgs, teams, users
from fortium_metrics.analytics import AnalyticsQuery
from fortium_metrics.analytics.catalogue import KPI_MEASURES
from fortium_metrics.analytics.rollups import rebuild
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.uow import Store

APP_ROLE = "fortium_app"
DAYS = 90
PEOPLE, TEAMS, PROJECTS = 150, 8, 10
MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]
TOOLS = ["Read", "Edit", "Bash", "Grep", "Glob", "Write", "Task", "WebFetch", "TodoWrite", "MultiEdit",
         "mcp__github__create_pr", "mcp__github__get_issue", "mcp__jira__search", "NotebookEdit", "WebSearch"]
AGENTS = ["Explore", "code-reviewer", "test-runner"]
KINDS = ["api_request", "tool_execution", "prompt", "tool_decision", "agent_invocation", "code_change", "command",
         "api_error", "productivity_metric", "other"]
KIND_WEIGHTS = [0.35, 0.40, 0.08, 0.05, 0.03, 0.03, 0.02, 0.01, 0.02, 0.01]
QUERIES = {
    "kpis (30 d, with previous)": dict(measures=list(KPI_MEASURES), days=30, compare="previous"),
    "daily cost by model (30 d)": dict(measures=["cost_usd"], group_by=["day", "model"], days=30),
    "top 20 tools (30 d)": dict(measures=["tool_executions", "tool_success_rate", "tool_duration_p50_ms",
                                          "tool_duration_p95_ms"], group_by=["tool"], order_by=["-tool_executions"],
                                limit=20, days=30),
    "team comparison (90 d)": dict(measures=["active_users", "sessions", "cost_usd", "tool_success_rate",
                                             "lines_added"], group_by=["team"], days=90),
}


# -- data ----------------------------------------------------------------------------------------
async def people_of(store: Store, org: uuid.UUID) -> tuple[list, list, list]:
    """Teams, people (each in one team) and projects of a benchmark organisation."""
    admin = Principal.org_admin(org)
    async with store.unit_of_work(admin) as uow:
        team_ids = [(await teams.create_team(uow, f"Team {t}")).id for t in range(TEAMS)]
        people = []
        for p in range(PEOPLE):
            person = await users.create_user(uow, f"dev{p}@bench.test", f"Dev {p}", "developer")
            people.append((person.id, team_ids[p % TEAMS]))
        from fortium_metrics import projects
        project_ids = [(await projects.create_project(uow, f"project-{i}")).id for i in range(PROJECTS)]
    async with store.unit_of_work(admin) as uow:
        for (person, team_id), p in zip(people, range(PEOPLE)):
            await teams.add_member(uow, str(team_id), str(person), "member")
    return team_ids, people, project_ids


def rows(org: uuid.UUID, people: list, projects: list, count: int, end: datetime, seed: int, chunk: int = 200_000):
    """Dicts of metric_events columns, `count` of them over the DAYS days before `end`. Shaped like
    real use: people work in sessions (three a day, on weekdays mostly) on one of their team's two
    projects, mostly with one model; tools follow a long tail."""
    rng = np.random.default_rng(seed)
    first = (end - timedelta(days=DAYS)).replace(hour=0)
    weekday = np.array([(first + timedelta(days=d)).weekday() < 5 for d in range(DAYS)], dtype=float) * 0.8 + 0.2
    for offset in range(0, count, chunk):
        n = min(chunk, count - offset)
        day = rng.choice(DAYS, n, p=weekday / weekday.sum())
        who = rng.integers(0, len(people), n)
        sitting = rng.integers(0, 3, n)
        hour = 7 + (who * 7 + day * 3 + sitting * 4) % 11
        seconds = day * 86400 + hour * 3600 + rng.integers(0, 7200, n)
        project = (who % TEAMS + ((who + day + sitting) % 2) * 3) % len(projects)
        kinds = rng.choice(len(KINDS), n, p=KIND_WEIGHTS)
        model = np.where(rng.random(n) < 0.85, who % 2, rng.integers(0, len(MODELS), n))
        tool = rng.zipf(1.6, n) % len(TOOLS)
        success = rng.random(n)
        duration = rng.lognormal(6, 1.5, n)
        tokens = rng.integers(0, 4000, n)
        agent = rng.random(n)
        session = sitting + day * 3
        for i in range(n):
            kind = KINDS[kinds[i]]
            person, team = people[who[i]]
            at = first + timedelta(seconds=int(seconds[i]))
            if at >= end:
                continue
            row = dict(occurred_at=at, kind=kind, user_id=person, team_id=team, project_id=projects[project[i]],
                       session_id=f"s-{who[i]}-{session[i]}", source="otlp", dedup_key=f"b{seed}-{offset + i}")
            if kind == "api_request":
                sub = agent[i] < 0.2
                row.update(name=MODELS[model[i]], model=MODELS[model[i]], input_tokens=int(tokens[i] // 40),
                           output_tokens=int(tokens[i] // 3), cache_read_tokens=int(tokens[i]) * 5,
                           cache_write_tokens=int(tokens[i]), cache_write_5m_tokens=int(tokens[i]),
                           cost_usd=float(tokens[i]) * 3e-6, duration_ms=float(duration[i]),
                           agent=AGENTS[who[i] % 3] if sub else None, query_source="subagent" if sub else "main",
                           mcp_server="github" if agent[i] > 0.95 else None)
            elif kind == "tool_execution":
                name = TOOLS[tool[i]]
                row.update(name=name, success=bool(success[i] > 0.07), duration_ms=float(duration[i]),
                           mcp_server=name.split("__")[1] if name.startswith("mcp__") else None)
            elif kind == "tool_decision":
                row.update(name=["Edit", "Write", "Bash"][tool[i] % 3], success=bool(success[i] > 0.1))
            elif kind == "agent_invocation":
                row.update(name=AGENTS[tool[i] % 3], agent=AGENTS[tool[i] % 3], success=bool(success[i] > 0.05),
                           duration_ms=float(duration[i]) * 20)
            elif kind == "code_change":
                row.update(name="python", language="python", lines_added=int(tokens[i] // 20),
                           lines_removed=int(tokens[i] // 80))
            elif kind == "command":
                row.update(name="/review", success=True)
            elif kind == "api_error":
                row.update(name=MODELS[model[i]], model=MODELS[model[i]], success=False)
            elif kind == "productivity_metric":
                row.update(name="commits" if success[i] < 0.5 else "active_time.user", value=1.0 if success[i] < 0.5 else 60.0)
            elif kind == "prompt":
                row.update(value=float(tokens[i] // 10))
            else:
                row.update(name="compaction")
            yield row


def columns() -> list[str]:
    from fortium_metrics.store.models import MetricEvent

    return [c.name for c in MetricEvent.__table__.columns if c.name != "attributes"]


async def load_postgres(owner_url: str, org: uuid.UUID, stream) -> int:
    import psycopg

    names = columns()
    loaded = 0
    async with await psycopg.AsyncConnection.connect(owner_url) as conn:
        async with conn.cursor() as cursor:
            async with cursor.copy(f"COPY metric_events ({', '.join(names)}, attributes) FROM STDIN") as copy:
                for row in stream:
                    row.update(organization_id=org, id=uuid.uuid4())
                    await copy.write_row([row.get(n) for n in names] + ["{}"])
                    loaded += 1
        await conn.commit()
    return loaded


def load_sqlite(path: Path, org: uuid.UUID, stream) -> int:
    import sqlite3

    from fortium_metrics.store.event_writer import _sqlite_time

    names = columns()
    connection = sqlite3.connect(path)
    loaded, batch = 0, []
    insert = f"INSERT INTO metric_events ({', '.join(names)}, attributes) VALUES ({', '.join('?' * (len(names) + 1))})"
    for row in stream:
        row.update(organization_id=org.hex, id=uuid.uuid4().hex, occurred_at=_sqlite_time(row["occurred_at"]))
        for key in ("user_id", "team_id", "project_id"):
            row[key] = row[key].hex if row.get(key) else None
        batch.append([row.get(n) for n in names] + ["{}"])
        if len(batch) == 50_000:
            connection.executemany(insert, batch)
            loaded += len(batch)
            batch = []
    connection.executemany(insert, batch)
    connection.commit()
    connection.close()
    return loaded + len(batch)


# -- measuring -----------------------------------------------------------------------------------
async def measure(store: Store, org: uuid.UUID, runs: int, raw_runs: int) -> list[tuple]:
    found = []
    for name, spec in QUERIES.items():
        times = {}
        for use_rollups, count in ((True, runs), (False, raw_runs)):
            samples = []
            for _ in range(count):
                began = time.perf_counter()
                async with store.unit_of_work(Principal.org_admin(org, label="bench")) as uow:
                    result = await analytics.query(uow, AnalyticsQuery(**spec), use_rollups=use_rollups)
                samples.append((time.perf_counter() - began) * 1000)
            times[use_rollups] = samples
            if use_rollups:
                sources = result.sources
        found.append((name, _p(times[True], 50), _p(times[True], 95), _p(times[False], 50) if raw_runs else None,
                      sources))
    return found


def _p(samples: list[float], percentile: int) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[percentile - 1]


def report(backend: str, events: int, results: list[tuple]) -> None:
    print(f"\n{backend}: {events:,} events in the measured organisation")
    print(f"{'query':<30} {'rollups p50':>12} {'p95':>9} {'raw p50':>10} {'raw/rollups':>12}  sources")
    for name, p50, p95, raw50, sources in results:
        raw = f"{raw50:>7.0f} ms {raw50 / p50:>11.0f}x" if raw50 is not None else f"{'-':>10} {'-':>12}"
        print(f"{name:<30} {p50:>9.1f} ms {p95:>6.1f} ms {raw}  {', '.join(sorted(set(sources.values())))}")


async def build(store: Store, slug: str, load, events: int, end: datetime, seed: int) -> uuid.UUID:
    async with store.unit_of_work(Principal.system("bench")) as uow:
        org = (await orgs.create_organization(uow, slug, slug)).id
    _teams, people, projects = await people_of(store, org)
    began = time.perf_counter()
    loaded = await load(org, rows(org, people, projects, events, end, seed))
    print(f"  {slug}: {loaded:,} events loaded in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    await rebuild(store, [org])
    print(f"  {slug}: rollups built in {time.perf_counter() - began:.0f} s", flush=True)
    return org


async def measure_kept(admin_url: str, name: str, events: int, runs: int, raw_runs: int) -> None:
    """Measure a database an earlier `--keep` run built (loading 10M events takes a while)."""
    from sqlalchemy.engine import make_url

    owner = make_url(admin_url).set(database=name, drivername="postgresql")
    app = owner.set(username=APP_ROLE, password=None)
    # The owner's connection lists the organisations (system work); queries run as the app role.
    store = Store(create_engine(app.render_as_string(hide_password=False)),
                  create_engine(owner.render_as_string(hide_password=False)))
    async with store.unit_of_work(Principal.system("bench")) as uow:
        org = next(o.id for o in await orgs.list_organizations(uow) if o.slug == "measured")
    report("PostgreSQL", events, await measure(store, org, runs, raw_runs))
    await store.dispose()


async def run_postgres(admin_url: str, events: int, runs: int, raw_runs: int, end: datetime, keep: bool) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    name = f"fortium_bench_{uuid.uuid4().hex[:8]}"
    plain = lambda url: url.set(drivername="postgresql").render_as_string(hide_password=False)  # noqa: E731
    with psycopg.connect(plain(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = plain(admin.set(database=name))
    try:
        migrate.upgrade(owner, "head", APP_ROLE)
        with psycopg.connect(owner, autocommit=True) as conn:  # the past months' partitions, as a live server had made
            conn.execute("SELECT fortium_ensure_partitions(3)")
            for back in range(1, 5):
                start = (end.replace(day=1) - timedelta(days=28 * back)).replace(day=1)
                stop = (start + timedelta(days=32)).replace(day=1)
                part = f"metric_events_p{start:%Y_%m}"
                conn.execute(f"CREATE TABLE IF NOT EXISTS {part} PARTITION OF metric_events "
                             f"FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{stop:%Y-%m-%d}')")
        store = Store(create_engine(plain(make_url(owner).set(username=APP_ROLE, password=None))), create_engine(owner))
        load = lambda org, stream: load_postgres(owner, org, stream)  # noqa: E731
        org = await build(store, "measured", load, events, end, 1)
        for seed, slug in ((2, "noise-one"), (3, "noise-two")):
            await build(store, slug, load, events // 10, end, seed)
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        report("PostgreSQL", events, await measure(store, org, runs, raw_runs))
        await store.dispose()
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(plain(admin), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_sqlite(data: Path, events: int, runs: int, raw_runs: int, end: datetime) -> None:
    path, manifest = data / "analytics.db", data / "manifest.json"
    wanted = {"events": events, "end": end.date().isoformat()}
    store = Store(create_engine(f"sqlite:///{path}"))
    if manifest.exists() and json.loads(manifest.read_text()) == wanted:
        async with store.unit_of_work(Principal.system("bench")) as uow:
            org = next(o.id for o in await orgs.list_organizations(uow) if o.slug == "measured")
    else:
        data.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        migrate.upgrade(f"sqlite:///{path}")
        load = lambda org, stream: asyncio.to_thread(load_sqlite, path, org, stream)  # noqa: E731
        org = await build(store, "measured", load, events, end, 1)
        for seed, slug in ((2, "noise-one"), (3, "noise-two")):
            await build(store, slug, load, events // 10, end, seed)
        manifest.write_text(json.dumps(wanted))
    report("SQLite", events, await measure(store, org, runs, raw_runs))
    await store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=30, help="Timed runs per query from the rollups.")
    parser.add_argument("--raw-runs", type=int, default=3, help="Timed runs per query from raw events (0: none, the rollups only).")
    parser.add_argument("--pg-admin-url", help="A server the benchmark may create a database on.")
    parser.add_argument("--data", type=Path, default=Path("/tmp/fortium-bench-analytics"), help="SQLite file's folder.")
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--keep", action="store_true", help="Keep the PostgreSQL database (its name is printed).")
    parser.add_argument("--database", help="Measure this kept PostgreSQL database instead of building one.")
    args = parser.parse_args()
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    if "postgres" in args.backends:
        if not args.pg_admin_url:
            sys.exit("--pg-admin-url is needed for PostgreSQL (or --backends sqlite)")
        if args.database:
            asyncio.run(measure_kept(args.pg_admin_url, args.database, args.events, args.runs, args.raw_runs))
        else:
            asyncio.run(run_postgres(args.pg_admin_url, args.events, args.runs, args.raw_runs, end, args.keep))
    if "sqlite" in args.backends:
        asyncio.run(run_sqlite(args.data, args.events, args.runs, args.raw_runs, end))


if __name__ == "__main__":
    main()
