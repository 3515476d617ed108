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


async def record_files(uow: UnitOfWork, importer: str, files: list[tuple[str, str, dict[str, int]]]) -> None:
    """Mark many files done at once: one query for the existing rows, one flush (an import of
    thousands of small transcript files would otherwise cost a round trip per file)."""
    sources = [source for source, _, _ in files]
    existing = {row.source: row for row in await uow.session.scalars(
        select(MigrationStatus).where(MigrationStatus.importer == importer, MigrationStatus.source.in_(sources)))}
    now = utcnow()
    for source, fp, counts in files:
        row = existing.get(source)
        if row is None:
            row = MigrationStatus(importer=importer, source=source, records_read=0, imported=0, duplicates=0, rejected=0)
            uow.session.add(row)
        elif row.fingerprint != fp:  # a changed file starts over
            row.records_read = row.imported = row.duplicates = row.rejected = 0
        row.fingerprint, row.status, row.finished_at, row.details = fp, "done", now, row.details or {}
        row.records_read += counts.get("read", 0)
        row.imported += counts.get("imported", 0)
        row.duplicates += counts.get("duplicates", 0)
        row.rejected += counts.get("rejected", 0)
    await uow.session.flush()
