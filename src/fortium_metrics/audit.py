"""The audit log: security-relevant actions, append-only (the app role may not UPDATE/DELETE it)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .pagination import paginate
from .permissions import authorize
from .store.models import AuditLog
from .store.uow import UnitOfWork


def record(uow: UnitOfWork, action: str, target: str | None = None, organization_id=None, **details: Any) -> None:
    """Add an entry in the caller's transaction, so it commits or rolls back with the action."""
    uow.session.add(
        AuditLog(
            organization_id=organization_id or uow.principal.organization_id,
            actor=uow.principal.label or uow.principal.kind,
            action=action,
            target=target,
            details=details,
        )
    )


async def list_entries(uow: UnitOfWork, limit: int = 100) -> list[AuditLog]:
    await authorize(uow, "audit.read")
    result = await uow.session.scalars(select(AuditLog).order_by(AuditLog.occurred_at.desc()).limit(limit))
    return list(result)


async def search(uow: UnitOfWork, page, action: str | None = None) -> tuple[list[AuditLog], int]:
    await authorize(uow, "audit.read")
    query = select(AuditLog).order_by(AuditLog.occurred_at.desc(), AuditLog.id)
    if action:
        query = query.where(AuditLog.action == action)
    return await paginate(uow, query, page)
