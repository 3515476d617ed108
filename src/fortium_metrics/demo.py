"""`fortium-metrics demo`: fills an organisation with a realistic one — four teams, their people
(an admin, a manager, team leads, members) and months of Claude Code activity — so the dashboard
can be tried and shown without real data.

Everything goes through the normal paths: people and teams through their services, activity
through `ingest.record_events` with the source each event would really come from (hooks, OTLP,
MCP). Deterministic with `--seed` and idempotent: people, teams and events are found again,
never doubled (demo_events.py). It writes only into its own organisation.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from . import audit, orgs, teams, users
from .config import load_settings
from .context import AppContext
from .demo_events import MODELS, DayBuilder, Person
from .errors import NotFound
from .importers.cli import _with_context
from .importers.transcripts_prices import PriceTable
from .ingest import MAX_BATCH, record_events
from .passwords import hash_password
from .principal import Principal
from .store.uow import Store

DEMO_PASSWORD = "demo-fortium-2026"
TEAMS = (("Platform", "platform", ("platform-api", "infra-terraform")),
         ("Payments", "payments", ("payments-service", "billing-ui")),
         ("Mobile", "mobile", ("mobile-app", "design-system")),
         ("Data", "data", ("data-pipelines", "analytics-dbt")))
FIRST = ("Ada", "Ben", "Chloé", "Dev", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca", "Mei",
         "Nils", "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe")
LAST = ("Andersen", "Brooks", "Castillo", "Dubois", "Eze", "Fischer", "García", "Haddad", "Ito", "Jansen", "Kowalski",
        "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Varga", "Wright")


@dataclass
class DemoReport:
    org: str
    people: list[Person]
    days: int
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def demo_people(count: int, seed: int, org_slug: str) -> list[Person]:
    """`count` people: the first is the admin, the second the manager, then one lead per team and
    the members, spread over the teams. The same seed gives the same people."""
    rng = random.Random(f"{seed}|people")
    names = rng.sample([(f, last) for f in FIRST for last in LAST], count)
    people = []
    for index, (first, last) in enumerate(names):
        role = "admin" if index == 0 else "manager" if index == 1 else "developer"
        team = TEAMS[(index - 2) % len(TEAMS)] if index >= 2 else (TEAMS[0] if index == 0 else None)
        slug = f"{first}.{last}".lower().replace("é", "e").replace("í", "i").replace("á", "a")
        people.append(Person(
            email=f"{slug}@{org_slug}.example", name=f"{first} {last}", role=role, team=team[1] if team else None,
            lead=2 <= index < 2 + len(TEAMS), projects=team[2] if team else TEAMS[0][2],
            activity=0.4 if role == "manager" else round(rng.uniform(1.0, 2.6), 2),
            favourite_model=rng.choices([m for m, _ in MODELS], weights=[w for _, w in MODELS])[0]))
    return people


async def _organisation(store: Store, slug: str) -> Principal:
    try:
        org_id = await orgs.id_for_slug(store, slug)
    except NotFound:
        async with store.unit_of_work(Principal.system("demo")) as uow:
            org_id = (await orgs.create_organization(uow, f"{slug.replace('-', ' ').title()} (demo)", slug)).id
    return Principal.org_admin(org_id, label="demo")


async def _people_and_teams(store: Store, operator: Principal, people: list[Person], password: str) -> None:
    """Teams and people that are missing; new people get the demo password (hashed once: Argon2
    is deliberately slow, and these accounts share a published password anyway)."""
    hashed = None
    async with store.unit_of_work(operator) as uow:
        known_teams = {t.slug for t in await teams.list_teams(uow)}
        for name, slug, _ in TEAMS:
            if slug not in known_teams:
                await teams.create_team(uow, name, slug)
        for person in people:
            try:
                await users.get_user(uow, person.email)
            except NotFound:
                user = await users.create_user(uow, person.email, person.name, person.role)
                user.password_hash = hashed = hashed or hash_password(password)
                audit.record(uow, "user.password", target=person.email)
            if person.team:
                await teams.add_member(uow, person.team, person.email, "lead" if person.lead else "member")


def _send(ctx: AppContext, operator: Principal, pending: dict[str, list[dict]], final: bool) -> list[asyncio.Task]:
    """Full batches (all that is pending when `final`) handed to the ingestor: few, large
    transactions, so each resolves the people, teams and projects it names once. They are written
    while the next days are generated (the database works in its own thread)."""
    tasks = []
    for source, events in pending.items():
        while len(events) >= MAX_BATCH or (final and events):
            tasks.append(asyncio.create_task(record_events(ctx.ingestor, operator, events[:MAX_BATCH], source)))
            del events[:MAX_BATCH]
    return tasks


def _tally(report: DemoReport, results: list) -> None:
    for result in results:
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.rejected += result.rejected
        report.errors += [error.message for error in result.errors][:5]


async def fill_demo(ctx: AppContext, org_slug: str, *, days: int = 90, people: int = 30, seed: int = 1,
                    password: str = DEMO_PASSWORD, today: date | None = None,
                    on_day: Callable[[int], None] | None = None) -> DemoReport:
    """Create (or find) the organisation, its teams and people, and `days` days of activity
    ending `today` (UTC)."""
    started = time.monotonic()
    today = today or datetime.now(timezone.utc).date()
    operator = await _organisation(ctx.store, org_slug)
    cast = demo_people(people, seed, org_slug)
    await _people_and_teams(ctx.store, operator, cast, password)
    report, prices = DemoReport(org_slug, cast, days), PriceTable.load()
    pending: dict[str, list[dict]] = {"hook": [], "otlp": [], "mcp": []}
    writing: list[asyncio.Task] = []
    for offset in range(days):
        day = today - timedelta(days=days - 1 - offset)
        for person in cast:
            for source, events in DayBuilder(seed, person, day, prices).build().items():
                pending[source] += events
        writing += _send(ctx, operator, pending, final=offset == days - 1)
        while len(busy := [task for task in writing if not task.done()]) > 3:  # bounded memory
            await asyncio.wait(busy, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.sleep(0)
        if on_day:
            on_day(offset + 1)
    _tally(report, await asyncio.gather(*writing))
    report.seconds = time.monotonic() - started
    return report


def _print(console: Console, report: DemoReport, password: str) -> None:
    table = Table("e-mail", "name", "role", "team", header_style="bold")
    for person in report.people:
        team = f"{person.team} ({'lead' if person.lead else 'member'})" if person.team else "—"
        table.add_row(person.email, person.name, person.role, team)
    console.print(table)
    console.print(f"organisation [bold]{report.org}[/]: {report.days} days, {report.accepted} events stored, "
                  f"{report.duplicates} already there, {report.rejected} rejected, in {report.seconds:.1f} s")
    for error in report.errors[:5]:
        console.print(f"[red]rejected:[/] {error}")
    console.print(f"Every demo person signs in with the password [bold]{password}[/] "
                  f"(e.g. {report.people[0].email}, the admin).")


@click.command("demo")
@click.option("--org", "org_slug", default="demo", show_default=True, help="Organisation slug (created if missing).")
@click.option("--days", type=click.IntRange(1, 366), default=90, show_default=True, help="Days of activity, ending today.")
@click.option("--people", type=click.IntRange(4, 400), default=30, show_default=True,
              help="How many people, spread over four teams (one admin, one manager, a lead per team).")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same organisation and events.")
@click.option("--password", default=DEMO_PASSWORD, show_default=True, help="Everyone's password.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs, CI).")
@click.pass_context
def demo_command(ctx: click.Context, org_slug: str, days: int, people: int, seed: int, password: str,
                 no_progress: bool) -> None:
    """Fill an organisation with realistic demo data: teams, people and their Claude Code use.

    Safe to run again: nothing is doubled (the same seed gives the same events)."""
    console = Console()
    settings = load_settings(**(ctx.obj or {}))

    async def work(app: AppContext) -> DemoReport:
        with Progress(console=console, disable=no_progress, transient=True) as progress:
            task = progress.add_task(f"demo data for {org_slug}", total=days)
            return await fill_demo(app, org_slug, days=days, people=people, seed=seed, password=password,
                                   on_day=lambda done: progress.update(task, completed=done))

    _print(console, asyncio.run(_with_context(settings, work)), password)
