"""Keeping every organisation's rollups usable: the `rollups` job (scheduler and CLI) finds the
organisations whose rollups were built for another cube definition or time zone, or never, and
rebuilds them. Idempotent; several processes may run it (on PostgreSQL a rebuild holds its
organisation's advisory lock, and a second rebuild of the same organisation simply repeats it)."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select

from ..errors import Forbidden
from ..principal import Principal
from ..store import rollup_writer
from ..store.models import Organization
from ..store.rollups import VERSION, RollupState
from ..store.uow import Store, UnitOfWork


async def stale_organizations(uow: UnitOfWork) -> list[uuid.UUID]:
    """Organisations whose rollups do not match the current cubes and their time zone."""
    if not uow.principal.is_system:
        raise Forbidden("finding stale rollups across organisations is an operator job")
    rows = (await uow.session.execute(
        select(Organization.id, Organization.settings, RollupState.version, RollupState.timezone)
        .outerjoin(RollupState, RollupState.organization_id == Organization.id))).all()
    return [org for org, settings, version, tz in rows
            if version != VERSION or tz != ((settings or {}).get("timezone") or "UTC")]


async def rebuild(store: Store, organizations: list[uuid.UUID] | None = None,
                  progress: Callable[[uuid.UUID, int], None] | None = None) -> dict[uuid.UUID, int]:
    """Rebuild the given organisations' rollups (default: the stale ones), one transaction each;
    returns the events read per organisation."""
    if organizations is None:
        async with store.unit_of_work(Principal.system("rollups")) as uow:
            organizations = await stale_organizations(uow)
    done = {}
    for org in organizations:
        async with store.unit_of_work(Principal.org_admin(org, label="rollups")) as uow:
            done[org] = await rollup_writer.rebuild(uow)
        if progress:
            progress(org, done[org])
    return done
