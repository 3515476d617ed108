"""The in-process scheduler (APScheduler 3). Jobs are idempotent, so several processes may run it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import maintenance
from .config import Settings
from .store.uow import Store


def build_scheduler(settings: Settings, store: Store) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def partitions() -> None:
        await maintenance.ensure_partitions(store, settings.partition_months_ahead)

    async def rollups() -> None:
        from .analytics.rollups import rebuild

        await rebuild(store)

    # Stale rollups (a new time zone, a new cube definition, an upgrade) are rebuilt within a
    # minute; until then analytics reads the raw events, so answers stay right, only slower.
    scheduler.add_job(rollups, "interval", minutes=1, id="rollups",
                      next_run_time=datetime.now(timezone.utc) + timedelta(seconds=5), coalesce=True, max_instances=1)
    if store.dialect == "postgresql":
        # Daily is plenty with months kept ahead; the first run shortly after start-up.
        first = datetime.now(timezone.utc) + timedelta(seconds=5)
        scheduler.add_job(partitions, "interval", days=1, id="partitions", next_run_time=first,
                          coalesce=True, max_instances=1)
    return scheduler
