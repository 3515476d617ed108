"""The one cross-organisation read a request makes: its API key, by the key's unique prefix.

It runs on every authenticated request, before the organisation is known. On PostgreSQL, through a
unit of work and the ORM, a request's key check cost 1.3 ms of CPU (session, statements, entity
loading, commit); with the same two statements on the pooled driver connection it costs 0.6 ms
(docs/benchmarks.md). On SQLite it stays a system unit of work.

On PostgreSQL the application role cannot read across organisations (revision 0010): the lookup
is the `SECURITY DEFINER` function `fortium_api_key(prefix)`, owned by the schema owner, which
answers the one key with that prefix and its user's role. Recording the key's use happens inside
the key's own organisation.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ..principal import Principal
from .models import ApiKey, User
from .types import utcnow
from .uow import Store


@dataclass(frozen=True)
class KeyRecord:
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    prefix: str
    secret_hash: str
    scopes: list[str]
    revoked_at: datetime | None
    last_used_at: datetime | None
    user_role: str | None  # None: an organisation key, or its user is gone
    user_active: bool | None


_FIELDS = ("organization_id", "user_id", "prefix", "secret_hash", "scopes", "revoked_at", "last_used_at")
_POSTGRES_QUERY = "SELECT * FROM fortium_api_key(%s)"


async def find_api_key(store: Store, prefix: str) -> KeyRecord | None:
    if store.dialect == "postgresql":
        return await _find_postgres(store, prefix)
    async with store.unit_of_work(Principal.system("auth")) as uow:
        found = (await uow.session.execute(
            select(*(getattr(ApiKey, f) for f in _FIELDS), User.role, User.active).outerjoin(
                User, (User.organization_id == ApiKey.organization_id) & (User.id == ApiKey.user_id))
            .where(ApiKey.prefix == prefix))).first()
    return KeyRecord(*found) if found is not None else None


async def _find_postgres(store: Store, prefix: str) -> KeyRecord | None:
    async with store.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection  # psycopg
        async with raw.cursor() as cursor:
            await cursor.execute(_POSTGRES_QUERY, (prefix,))
            found = await cursor.fetchone()
        await raw.commit()
    return KeyRecord(*found) if found is not None else None


async def touch_api_key(store: Store, key: KeyRecord, resolution: timedelta) -> None:
    """Record that the key was used now, unless that was recorded less than `resolution` ago
    (concurrent first requests then write once, not once each)."""
    now, prefix = utcnow(), key.prefix
    async with store.unit_of_work(Principal.org_admin(key.organization_id, label="auth")) as uow:
        await uow.session.execute(
            update(ApiKey).where(ApiKey.prefix == prefix,
                                 or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - resolution))
            .values(last_used_at=now))
