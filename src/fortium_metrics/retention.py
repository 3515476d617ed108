"""Retention: what each organisation no longer keeps goes, by a job (the scheduler, or
`fortium-metrics retention run`).

* Raw data (metric_events, their dedup keys, sessions) older than the organisation's
  `data_retention_days`.
* Rollups older than `FORTIUM_ROLLUP_RETENTION_DAYS` or the raw retention, whichever is longer:
  long-range charts outlive the events they were summed from.

On PostgreSQL `metric_events` is partitioned by month and partitions are shared by every
organisation, so a whole partition is dropped (instant, no vacuum) only when it ends before the
EARLIEST cut-off of all organisations — i.e. every organisation's retention allows it. Everything
else goes by range deletes inside each organisation's own unit of work, in small transactions.
SQLite has only range deletes. A run is idempotent (a second one finds nothing), audited (one
`retention.run` entry per organisation that lost something), and holds the `retention` job lease,
so only one runner works at a time whatever the number of processes.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Row, delete, func, select, text

from . import audit
from .errors import Conflict, NotFound
from .principal import Principal
from .store import leases, system_lookups
from .store.models import AgentSession, EventKey, MetricEvent
from .store.rollups import CUBES
from .store.types import utcnow
from .store.uow import Store, UnitOfWork

JOB = "retention"
BATCH = 5000  # events per delete transaction: short locks, bounded memory
LEASE_TTL = timedelta(minutes=10)  # renewed after every batch; a dead runner's lease frees itself


@dataclass(frozen=True)
class Policy:
    organization_id: uuid.UUID
    slug: str
    events_before: datetime  # raw data that occurred before this goes
    rollups_before: date  # rollup rows of local days before this go


@dataclass
class OrgReport:
    slug: str
    events_before: datetime
    rollups_before: date
    events: int = 0  # by partition drop and by range delete together
    sessions: int = 0
    rollup_rows: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.events or self.sessions or self.rollup_rows)


@dataclass
class Report:
    dry_run: bool
    organizations: list[OrgReport] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)  # dropped (or droppable, dry run)


def policy_for(org_id: uuid.UUID, slug: str, retention_days: int, rollup_retention_days: int,
               now: datetime) -> Policy:
    rollup_days = max(retention_days, rollup_retention_days)
    return Policy(org_id, slug, now - timedelta(days=retention_days), (now - timedelta(days=rollup_days)).date())


# -- the cross-organisation part: keep it here, small (see docs/operations.md "Retention") --------
async def organization_policies(store: Store, rollup_retention_days: int, now: datetime,
                                slug: str | None = None) -> list[Policy]:
    """Every organisation's (or one's) retention: the owner's narrow function on PostgreSQL."""
    rows = [row for row in await system_lookups.retention_policies(store) if slug is None or row[1] == slug]
    if slug is not None and not rows:
        raise NotFound(f"organisation {slug!r} not found")
    return [policy_for(org_id, org_slug, days, rollup_retention_days, now) for org_id, org_slug, days in rows]


async def drop_expired_partitions(store: Store, cutoff: datetime, dry_run: bool) -> list[Row]:
    """Monthly partitions ending at or before `cutoff` (the earliest cut-off of ALL organisations):
    dropped by the owner's function, which returns what each held per organisation."""
    if store.dialect != "postgresql":
        return []
    async with store.engine.begin() as connection:
        result = await connection.execute(text("SELECT * FROM fortium_drop_expired_partitions(:cutoff, :dry)"),
                                          {"cutoff": cutoff, "dry": dry_run})
        return list(result)


# -- per organisation, in its own units of work ------------------------------------------------
def _old_events(policy: Policy):
    return MetricEvent.occurred_at < policy.events_before


def _old_sessions(policy: Policy):
    return func.coalesce(AgentSession.ended_at, AgentSession.started_at) < policy.events_before


async def count_expired(uow: UnitOfWork, policy: Policy) -> OrgReport:
    """What a run would remove from this organisation (the dry run's answer)."""
    report = OrgReport(policy.slug, policy.events_before, policy.rollups_before)
    report.events = await uow.session.scalar(select(func.count()).select_from(MetricEvent).where(_old_events(policy)))
    report.sessions = await uow.session.scalar(select(func.count()).select_from(AgentSession).where(_old_sessions(policy)))
    for cube in CUBES:
        report.rollup_rows += await uow.session.scalar(
            select(func.count()).select_from(cube).where(cube.day < policy.rollups_before))
    return report


async def delete_event_batch(uow: UnitOfWork, policy: Policy, limit: int = BATCH) -> int:
    """Delete up to `limit` of the oldest expired events and their dedup keys; returns how many."""
    rows = (await uow.session.execute(
        select(MetricEvent.occurred_at, MetricEvent.id, MetricEvent.dedup_key).where(_old_events(policy))
        .order_by(MetricEvent.occurred_at).limit(limit))).all()
    if not rows:
        return 0
    # The primary key (organisation, occurred_at, id) finds them; the time bounds prune partitions.
    await uow.session.execute(delete(MetricEvent).where(
        MetricEvent.occurred_at >= rows[0].occurred_at, MetricEvent.occurred_at <= rows[-1].occurred_at,
        MetricEvent.id.in_([row.id for row in rows])).execution_options(synchronize_session=False))
    await uow.session.execute(delete(EventKey).where(EventKey.dedup_key.in_({row.dedup_key for row in rows}))
                              .execution_options(synchronize_session=False))
    return len(rows)


async def delete_rest(uow: UnitOfWork, policy: Policy, report: OrgReport) -> None:
    """Sessions, session events' dedup keys and rollup rows past their retention (set-based: far
    fewer rows than events)."""
    gone = await uow.session.execute(delete(AgentSession).where(_old_sessions(policy))
                                     .execution_options(synchronize_session=False))
    report.sessions += gone.rowcount
    # A session start or end claims a dedup key but stores no event row (ingest.py): its key goes
    # by its own time, as do the keys of events a partition drop took.
    await uow.session.execute(delete(EventKey).where(EventKey.occurred_at < policy.events_before)
                              .execution_options(synchronize_session=False))
    for cube in CUBES:
        gone = await uow.session.execute(delete(cube).where(cube.day < policy.rollups_before)
                                         .execution_options(synchronize_session=False))
        report.rollup_rows += gone.rowcount


async def expire_organization(store: Store, policy: Policy, report: OrgReport, lease: leases.Lease | None) -> None:
    principal = Principal.org_admin(policy.organization_id, label=JOB)
    while True:
        async with store.unit_of_work(principal) as uow:
            deleted = await delete_event_batch(uow, policy)
        report.events += deleted
        if lease is not None:
            await lease.renew()
        if deleted < BATCH:
            break
    async with store.unit_of_work(principal) as uow:
        await delete_rest(uow, policy, report)
        if report.anything:
            audit.record(uow, "retention.run", target=policy.slug, events=report.events, sessions=report.sessions,
                         rollup_rows=report.rollup_rows, events_before=policy.events_before.isoformat(),
                         rollups_before=policy.rollups_before.isoformat())


async def run(store: Store, rollup_retention_days: int, *, slug: str | None = None, dry_run: bool = False,
              now: datetime | None = None, min_interval: timedelta | None = None) -> Report | None:
    """One retention run: every organisation, or only `slug`'s range deletes (partitions are shared,
    so only a full run drops them). None when another runner holds the job (with `min_interval`,
    the scheduler's case: or it ran less than that ago); a by-hand run gets Conflict instead."""
    policies = await organization_policies(store, rollup_retention_days, now or utcnow(), slug)
    report = Report(dry_run)
    if dry_run:  # reads only: no lease needed
        await _dry_run(store, policies, report, full=slug is None)
        return report
    async with leases.held(store, JOB, LEASE_TTL, min_interval) as lease:
        if lease is None:
            if min_interval is not None:
                return None
            raise Conflict("a retention run is already in progress in another process; try again when it ends")
        await _expire(store, policies, report, lease, full=slug is None)
    return report


def _earliest(policies: list[Policy]) -> datetime:
    return min(p.events_before for p in policies)


async def _expire(store: Store, policies: list[Policy], report: Report, lease: leases.Lease, full: bool) -> None:
    reports = {p.organization_id: OrgReport(p.slug, p.events_before, p.rollups_before) for p in policies}
    if full and policies:
        for row in await drop_expired_partitions(store, _earliest(policies), dry_run=False):
            if row.partition_name not in report.partitions:
                report.partitions.append(row.partition_name)
            if row.organization_id in reports:  # else an organisation created since we read them: no rows
                reports[row.organization_id].events += row.events
    for policy in policies:
        await expire_organization(store, policy, reports[policy.organization_id], lease)
        report.organizations.append(reports[policy.organization_id])


async def _dry_run(store: Store, policies: list[Policy], report: Report, full: bool) -> None:
    if full and policies:
        rows = await drop_expired_partitions(store, _earliest(policies), dry_run=True)
        report.partitions = sorted({row.partition_name for row in rows})
    for policy in policies:
        async with store.unit_of_work(Principal.org_admin(policy.organization_id, label=JOB)) as uow:
            report.organizations.append(await count_expired(uow, policy))
