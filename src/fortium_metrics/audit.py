"""The audit log: security-relevant actions, append-only (the app role may not UPDATE/DELETE it)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select

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


def _selected(action: str | None, actor: str | None, target: str | None, since: datetime | None,
              until: datetime | None):
    """The entries matching the filters, newest first (see search)."""
    query = select(AuditLog).order_by(AuditLog.occurred_at.desc(), AuditLog.id)
    if any("\x00" in (value or "") for value in (action, actor, target)):
        query = query.where(false())  # no entry holds U+0000 (PostgreSQL text cannot), and it may not be sent there
    if action:
        query = query.where(AuditLog.action.startswith(action[:-1], autoescape=True) if action.endswith("*") else AuditLog.action == action)
    for column, value in ((AuditLog.actor, actor), (AuditLog.target, target)):
        if value:
            query = query.where(func.lower(column).contains(value.lower(), autoescape=True))
    if since:
        query = query.where(AuditLog.occurred_at >= since)
    if until:
        query = query.where(AuditLog.occurred_at < until)
    return query


async def search(uow: UnitOfWork, page, action: str | None = None, actor: str | None = None, target: str | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> tuple[list[AuditLog], int]:
    """Newest first. `action` matches exactly, or a family with a trailing `*` (`user.*`); `actor`
    and `target` match part of the value, ignoring case; `since` inclusive, `until` exclusive."""
    await authorize(uow, "audit.read")
    return await paginate(uow, _selected(action, actor, target, since, until), page)


async def export(uow: UnitOfWork, limit: int, action: str | None = None, actor: str | None = None,
                 target: str | None = None, since: datetime | None = None, until: datetime | None = None) -> list[AuditLog]:
    """The newest `limit` entries matching the filters of `search`, in one query (a download)."""
    await authorize(uow, "audit.read")
    return list(await uow.session.scalars(_selected(action, actor, target, since, until).limit(limit)))


async def actions(uow: UnitOfWork) -> list[str]:
    """The actions the organisation's log holds (the viewer's filter choices)."""
    await authorize(uow, "audit.read")
    return list(await uow.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))
