"""Keeping every organisation's rollups usable: the `rollups` job (scheduler and CLI) finds the
organisations whose rollups were built for another cube definition or time zone, or never, and
rebuilds them. Idempotent; several processes may run it (on PostgreSQL a rebuild holds its
organisation's advisory lock, and a second rebuild of the same organisation simply repeats it)."""
from __future__ import annotations

import uuid
from collections.abc import Callable

from ..principal import Principal
from ..store import rollup_writer, system_lookups
from ..store.rollups import VERSION
from ..store.uow import Store


async def stale_organizations(store: Store) -> list[uuid.UUID]:
    """Organisations whose rollups do not match the current cubes and their time zone (a job's
    narrow cross-organisation read, store/system_lookups.py)."""
    return [state.organization_id for state in await system_lookups.rollup_states(store)
            if state.built_version != VERSION or state.built_timezone != state.timezone]


async def rebuild(store: Store, organizations: list[uuid.UUID] | None = None,
                  progress: Callable[[uuid.UUID, int], None] | None = None) -> dict[uuid.UUID, int]:
    """Rebuild the given organisations' rollups (default: the stale ones), one transaction each;
    returns the events read per organisation."""
    if organizations is None:
        organizations = await stale_organizations(store)
    done = {}
    for org in organizations:
        async with store.unit_of_work(Principal.org_admin(org, label="rollups")) as uow:
            done[org] = await rollup_writer.rebuild(uow)
        if progress:
            progress(org, done[org])
    return done
