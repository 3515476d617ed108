"""The few reads that must happen before an organisation is known: the organisation of a slug,
the accounts of an e-mail (sign-in), the organisation of a refresh token or of an invitation
link, every organisation's rollup state (the rollups job) and retention (the retention job). Each answers ids only; the caller then opens a unit of work
bound to the organisation found.

On PostgreSQL the application role cannot read across organisations at all (no bypass in its
row-level security policies, revision 0010): each lookup is a narrow `SECURITY DEFINER` function
owned by the schema owner, run here on a pooled connection in one short transaction. On SQLite
the store-level filter is the tenancy, and a system unit of work reads the same thing.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text

from ..principal import Principal
from .invitation_models import Invitation
from .models import Organization, RefreshToken, User
from .rollups import RollupState
from .uow import Store


@dataclass(frozen=True)
class EmailAccount:
    organization_id: uuid.UUID
    user_id: uuid.UUID
    active: bool
    organization_slug: str


@dataclass(frozen=True)
class RollupStatus:
    organization_id: uuid.UUID
    timezone: str  # the organisation's time zone now
    built_version: int | None  # what its rollups were built for (None: never)
    built_timezone: str | None


async def _lookup(store: Store, function: str, query, **params) -> list[tuple]:
    """The rows of definer function `function` called with `params` (PostgreSQL, in that order),
    or of `query` in a system unit of work (SQLite)."""
    if store.dialect == "postgresql":
        arguments = ", ".join(f":{name}" for name in params)
        async with store.engine.connect() as connection:
            rows = [tuple(row) for row in await connection.execute(text(f"SELECT * FROM {function}({arguments})"), params)]
            await connection.commit()
        return rows
    async with store.unit_of_work(Principal.system("lookup")) as uow:
        return [tuple(row) for row in await uow.session.execute(query)]


def _first(rows: list[tuple]) -> uuid.UUID | None:
    return rows[0][0] if rows else None


async def organization_by_slug(store: Store, slug: str) -> uuid.UUID | None:
    return _first(await _lookup(store, "fortium_organization_by_slug",
                                select(Organization.id).where(Organization.slug == slug), slug=slug))


async def accounts_by_email(store: Store, email: str) -> list[EmailAccount]:
    query = (select(User.organization_id, User.id, User.active, Organization.slug)
             .join(Organization, Organization.id == User.organization_id).where(User.email == email))
    return [EmailAccount(*row) for row in await _lookup(store, "fortium_accounts_by_email", query, email=email)]


async def refresh_token_organization(store: Store, token_hash: str) -> uuid.UUID | None:
    query = select(RefreshToken.organization_id).where(RefreshToken.token_hash == token_hash)
    return _first(await _lookup(store, "fortium_refresh_token_organization", query, hash=token_hash))


async def rollup_states(store: Store) -> list[RollupStatus]:
    query = (select(Organization.id, Organization.settings, RollupState.version, RollupState.timezone)
             .outerjoin(RollupState, RollupState.organization_id == Organization.id))
    rows = await _lookup(store, "fortium_rollup_states", query)
    if store.dialect != "postgresql":  # the settings, where the definer function returns the time zone
        rows = [(org, (settings or {}).get("timezone") or "UTC", version, tz) for org, settings, version, tz in rows]
    return [RollupStatus(*row) for row in rows]


async def invitation_organization(store: Store, token_hash: str) -> uuid.UUID | None:
    query = select(Invitation.organization_id).where(Invitation.token_hash == token_hash)
    return _first(await _lookup(store, "fortium_invitation_organization", query, hash=token_hash))


async def retention_policies(store: Store) -> list[tuple[uuid.UUID, str, int]]:
    """(organisation id, slug, data_retention_days) of every organisation, by slug."""
    query = select(Organization.id, Organization.slug, Organization.data_retention_days).order_by(Organization.slug)
    return await _lookup(store, "fortium_retention_policies", query)
