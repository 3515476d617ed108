"""Import bookkeeping services: per-file status (resume/skip) and local identity mapping."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from . import audit
from .store.models import LocalDataMapping, MigrationStatus
from .store.types import utcnow
from .store.uow import UnitOfWork


async def finished_sources(uow: UnitOfWork, importer: str) -> dict[str, str]:
    """source -> fingerprint of files already imported completely."""
    rows = await uow.session.execute(
        select(MigrationStatus.source, MigrationStatus.fingerprint)
        .where(MigrationStatus.importer == importer, MigrationStatus.status == "done"))
    return dict(rows.all())


async def record_file(uow: UnitOfWork, importer: str, source: str, fingerprint: str, *, done: bool,
                      read: int, imported: int, duplicates: int, rejected: int, details: dict | None = None) -> None:
    status = await uow.session.scalar(
        select(MigrationStatus).where(MigrationStatus.importer == importer, MigrationStatus.source == source))
    if status is None:
        status = MigrationStatus(importer=importer, source=source, records_read=0, imported=0, duplicates=0, rejected=0)
        uow.session.add(status)
    if status.fingerprint != fingerprint:  # a changed file starts over
        status.records_read = status.imported = status.duplicates = status.rejected = 0
    status.fingerprint = fingerprint
    status.status = "done" if done else "running"
    status.records_read += read
    status.imported += imported
    status.duplicates += duplicates
    status.rejected += rejected
    status.details = details or status.details or {}
    status.finished_at = utcnow() if done else None
    await uow.session.flush()


async def map_identities(uow: UnitOfWork, importer: str, identities: list[str], user_id: uuid.UUID) -> int:
    """Record local identity -> central user; returns how many were new."""
    known = set(await uow.session.scalars(
        select(LocalDataMapping.local_identity).where(LocalDataMapping.importer == importer)))
    new = [i for i in dict.fromkeys(identities) if i not in known]
    for identity in new:
        uow.session.add(LocalDataMapping(importer=importer, local_identity=identity, user_id=user_id))
    if new:
        await uow.session.flush()
        audit.record(uow, "import.identities", target=importer, identities=new)
    return len(new)


async def list_status(uow: UnitOfWork, importer: str | None = None) -> list[MigrationStatus]:
    query = select(MigrationStatus).order_by(MigrationStatus.started_at)
    if importer:
        query = query.where(MigrationStatus.importer == importer)
    return list(await uow.session.scalars(query))
