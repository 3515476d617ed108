"""The in-process scheduler (APScheduler 3). Every process of a deployment runs it: the jobs are
idempotent, and the retention job also takes the `retention` lease (store/leases.py), so it runs
once per interval across all processes, never twice at once."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import maintenance, retention, telemetry
from .config import Settings
from .store.uow import Store

log = logging.getLogger(__name__)


def tracked(name: str, job: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[None]]:
    """Count the job's runs by outcome (/metrics); `job` returns False when it did not run here."""

    async def run() -> None:
        try:
            ran = await job()
        except Exception:
            telemetry.JOB_RUNS.labels(name, "failed").inc()
            log.exception("job %s failed", name)
            return
        telemetry.JOB_RUNS.labels(name, "ok" if ran else "skipped").inc()

    return run


def build_scheduler(settings: Settings, store: Store) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    soon = datetime.now(timezone.utc) + timedelta(seconds=5)

    async def partitions() -> bool:
        await maintenance.ensure_partitions(store, settings.partition_months_ahead)
        return True

    async def rollups() -> bool:
        from .analytics.rollups import rebuild

        await rebuild(store)
        return True

    interval = timedelta(seconds=settings.retention_interval_seconds)

    async def expire() -> bool:
        # 90% of the interval: a process whose timer fires a little early still finds the job due.
        report = await retention.run(store, settings.rollup_retention_days, min_interval=interval * 0.9)
        return report is not None

    def add(name: str, job: Callable[[], Awaitable[bool]], first: datetime = soon, **trigger) -> None:
        scheduler.add_job(tracked(name, job), "interval", id=name, name=name, next_run_time=first, coalesce=True,
                          max_instances=1, **trigger)

    # Stale rollups (a new time zone, a new cube definition, an upgrade) are rebuilt within a
    # minute; until then analytics reads the raw events, so answers stay right, only slower.
    add("rollups", rollups, minutes=1)
    # Retention's first run waits (at most ten minutes): deleting is nothing to rush at start-up.
    add("retention", expire, first=datetime.now(timezone.utc) + min(interval, timedelta(minutes=10)),
        seconds=settings.retention_interval_seconds)
    if store.dialect == "postgresql":
        add("partitions", partitions, days=1)  # daily is plenty with months kept ahead
    return scheduler
