"""Job leases: at most one runner of a job at a time, across every process sharing the database.

A lease is a row per job name (`job_leases`): a process takes it with one conditional UPDATE (the
lease is free, or expired because its holder died) and gives it back when done. The same
statement works on PostgreSQL and SQLite (where the write lock makes it atomic), so a CLI run and
the schedulers of N server processes never run a job twice at once. `min_interval` makes the
schedulers of several processes run a periodic job once per interval, not once per process.

Not tenant data: the table has no organisation and no row-level security, so it is read and
written on the application role's connection outside any unit of work (there is no tenant to bind,
and on PostgreSQL the role has no system scope to use: revision 0010).
"""
from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import AsyncIterator

from sqlalchemy import Integer, String, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base
from .types import UTCDateTime, utcnow
from .uow import Store


class JobLease(Base):
    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Lease:
    """A held lease; `renew` before `ttl` runs out on long jobs."""

    store: Store
    name: str
    holder: str
    ttl: timedelta

    async def renew(self) -> None:
        async with self.store.engine.begin() as connection:
            await connection.execute(update(JobLease).where(JobLease.name == self.name, JobLease.holder == self.holder)
                                      .values(expires_at=utcnow() + self.ttl))


async def try_acquire(store: Store, name: str, ttl: timedelta, min_interval: timedelta | None = None,
                      holder: str | None = None) -> Lease | None:
    """The lease, or None when another runner holds it (or, with `min_interval`, ran it recently)."""
    holder = holder or this_process()
    now = utcnow()
    condition = [JobLease.name == name, (JobLease.expires_at.is_(None)) | (JobLease.expires_at < now)]
    if min_interval is not None:
        condition.append(JobLease.finished_at.is_(None) | (JobLease.finished_at <= now - min_interval))
    for _ in range(2):
        async with store.engine.begin() as connection:
            taken = await connection.execute(update(JobLease).where(*condition)
                                             .values(holder=holder, expires_at=now + ttl, started_at=now))
            if taken.rowcount == 1:
                return Lease(store, name, holder, ttl)
            if await connection.scalar(select(JobLease.name).where(JobLease.name == name)) is not None:
                return None
        try:  # the job's first run anywhere: create its row, then take it as above
            async with store.engine.begin() as connection:
                await connection.execute(insert(JobLease).values(name=name, runs=0))
        except IntegrityError:
            pass  # another process created it at the same moment
    return None


async def release(lease: Lease, finished: bool = True) -> None:
    """Give the lease back; a run that failed (`finished=False`) does not count as the interval's run."""
    done = {"finished_at": utcnow(), "runs": JobLease.runs + 1} if finished else {}
    async with lease.store.engine.begin() as connection:
        await connection.execute(update(JobLease).where(JobLease.name == lease.name, JobLease.holder == lease.holder)
                                  .values(expires_at=None, **done))


@asynccontextmanager
async def held(store: Store, name: str, ttl: timedelta, min_interval: timedelta | None = None) -> AsyncIterator[Lease | None]:
    """`async with held(...) as lease:` — lease is None when someone else has the job."""
    lease = await try_acquire(store, name, ttl, min_interval)
    if lease is None:
        yield None
        return
    try:
        yield lease
    except BaseException:
        await release(lease, finished=False)
        raise
    await release(lease)


async def describe(store: Store, name: str) -> JobLease | None:
    async with store.engine.connect() as connection:
        row = (await connection.execute(select(JobLease.__table__).where(JobLease.name == name))).first()
    return JobLease(**row._mapping) if row is not None else None
