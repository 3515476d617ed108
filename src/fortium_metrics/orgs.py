"""Organisations: the tenants. Creating, renaming and deleting them is an operator's job (the
CLI's system scope), never a request's."""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, func, select

from . import audit, validation
from .errors import Conflict, Forbidden, Invalid, NotFound
from .permissions import authorize
from .store.models import TENANT_TABLES, Base, EventKey, MetricEvent, Organization
from .store.rollup_writer import new_org_state
from .store import system_lookups
from .store.uow import Store, UnitOfWork

log = logging.getLogger(__name__)
# Tenant tables without a foreign key to organizations (the time series: per-row checks would
# slow bulk loads). Every other tenant table's rows go with their organisation by ON DELETE
# CASCADE (tests/test_cli_orgs.py checks the schema for it).
NO_FOREIGN_KEY = (MetricEvent, EventKey)


RETENTION_DAYS = (1, 3650)  # the retention job (retention.py) deletes what is older


def check_retention_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not RETENTION_DAYS[0] <= days <= RETENTION_DAYS[1]:
        raise Invalid(f"data_retention_days: a whole number of days between {RETENTION_DAYS[0]} and {RETENTION_DAYS[1]}",
                      field="data_retention_days")


def operator_only(uow: UnitOfWork, what: str) -> None:
    if not uow.principal.is_system:
        raise Forbidden(f"only an operator can {what}")


async def create_organization(uow: UnitOfWork, name: str, slug: str | None = None,
                              data_retention_days: int = 365) -> Organization:
    operator_only(uow, "create organisations")
    name = validation.non_empty(name, "name")
    slug = validation.slug(slug or validation.default_slug(name))
    check_retention_days(data_retention_days)
    await _slug_free(uow, slug)
    org = Organization(name=name, slug=slug, data_retention_days=data_retention_days, settings={}, limits={})
    uow.session.add(org)
    await uow.session.flush()
    uow.session.add(new_org_state(org.id))  # no events yet: its (empty) rollups are current
    audit.record(uow, "org.create", target=slug, organization_id=org.id)
    return org


async def rename_organization(uow: UnitOfWork, slug: str, name: str | None = None,
                              new_slug: str | None = None) -> Organization:
    """A new display name, a new slug (sign-in URLs and --org use it), or both; audited in the
    organisation's log like a settings change."""
    operator_only(uow, "rename organisations")
    org = await get_by_slug(uow, slug)
    if name is None and new_slug is None:
        raise Invalid("name: give a new name, a new slug, or both", field="name")
    changes = {}
    if name is not None and (name := validation.non_empty(name, "name")) != org.name:
        changes["name"] = {"old": org.name, "new": name}
        org.name = name
    if new_slug is not None and (new_slug := validation.slug(new_slug)) != org.slug:
        await _slug_free(uow, new_slug)
        changes["slug"] = {"old": org.slug, "new": new_slug}
        org.slug = new_slug
    if changes:
        audit.record(uow, "org.settings", target=org.slug, organization_id=org.id, **changes)
    await uow.session.flush()
    return org


async def delete_organization(uow: UnitOfWork, slug: str) -> dict[str, int]:
    """Delete the organisation and everything it holds, on both databases; returns the rows
    removed per table. Its audit log goes with it, so the deletion is logged (WARNING) instead."""
    operator_only(uow, "delete organisations")
    org = await get_by_slug(uow, slug)
    removed = {}
    for name in TENANT_TABLES:
        table = Base.metadata.tables[name]
        removed[name] = await uow.session.scalar(select(func.count()).select_from(table).where(table.c.organization_id == org.id))
    for model in NO_FOREIGN_KEY:
        await uow.session.execute(delete(model).where(model.organization_id == org.id))
    await uow.session.execute(delete(Organization).where(Organization.id == org.id))
    log.warning("organisation %s (%s) deleted by %s: %s", org.slug, org.id, uow.principal.label,
                ", ".join(f"{n} {t}" for t, n in removed.items() if n))
    return removed


async def _slug_free(uow: UnitOfWork, slug: str) -> None:
    if await uow.session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(f"slug: an organisation with slug {slug!r} already exists", field="slug")


async def list_organizations(uow: UnitOfWork) -> list[Organization]:
    return list(await uow.session.scalars(select(Organization).order_by(Organization.slug)))


def _unknown_slug(slug: str) -> NotFound:
    return NotFound(f"org: no organisation with slug {slug!r}", field="org")


async def get_by_slug(uow: UnitOfWork, slug: str) -> Organization:
    org = await uow.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise _unknown_slug(slug)
    return org


async def id_for_slug(store: Store, slug: str) -> uuid.UUID:
    """The organisation a slug names, before any unit of work is bound to it (sign-in, SSO, the
    CLI's --org): the application role's narrow lookup, no system scope needed."""
    org = await system_lookups.organization_by_slug(store, slug)
    if org is None:
        raise _unknown_slug(slug)
    return org


UNKNOWN_USER_POLICIES = ("create", "reject")


async def current(uow: UnitOfWork) -> Organization:
    await authorize(uow, "org.read")
    return await uow.session.scalar(select(Organization).where(Organization.id == uow.principal.organization_id))


async def update_settings(uow: UnitOfWork, *, name: str | None = None, data_retention_days: int | None = None,
                          unknown_users: str | None = None, timezone: str | None = None,
                          min_group_size: int | None = None, label_dimensions: list[str] | None = None) -> Organization:
    """Admins only; every change is audited with its old and new value. A new time zone makes the
    analytics rollups stale: reads use raw events until the `rollups` job has rebuilt them."""
    await authorize(uow, "org.update")
    org = await current(uow)
    changes = {}
    if name is not None and name != org.name:
        changes["name"] = (org.name, validation.non_empty(name, "name"))
        org.name = name.strip()
    if data_retention_days is not None and data_retention_days != org.data_retention_days:
        check_retention_days(data_retention_days)
        changes["data_retention_days"] = (org.data_retention_days, data_retention_days)
        org.data_retention_days = data_retention_days
    if unknown_users is not None:
        policy = validation.one_of(unknown_users, UNKNOWN_USER_POLICIES, "unknown_users")
        old = (org.settings or {}).get("unknown_users", "create")
        if policy != old:
            changes["unknown_users"] = (old, policy)
            org.settings = {**(org.settings or {}), "unknown_users": policy}
    analytics = {"timezone": _timezone(timezone), "min_group_size": _group_size(min_group_size),
                 "label_dimensions": _labels(label_dimensions)}
    for key, value in analytics.items():
        old = (org.settings or {}).get(key)
        if value is not None and value != old:
            changes[key] = (old, value)
            org.settings = {**(org.settings or {}), key: value}
    if changes:
        audit.record(uow, "org.settings", target=org.slug, **{k: {"old": o, "new": n} for k, (o, n) in changes.items()})
    await uow.session.flush()
    return org


def _timezone(name: str | None) -> str | None:
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"timezone: {name!r} is not an IANA time zone such as Europe/Berlin or UTC",
                      field="timezone") from None
    return name


def _group_size(size: int | None) -> int | None:
    if size is not None and not 1 <= size <= 1000:
        raise Invalid("min_group_size: between 1 and 1000 people", field="min_group_size")
    return size


def _labels(keys: list[str] | None) -> list[str] | None:
    if keys is None:
        return None
    from .analytics.catalogue import DIMENSIONS
    from .analytics.expressions import LABEL_KEY

    for key in keys:
        if not LABEL_KEY.match(key) or key in DIMENSIONS:
            raise Invalid(f"label_dimensions: {key!r} must be a label name (letters, digits, . _ -) that is not a "
                          "built-in dimension", field="label_dimensions")
    if len(keys) > 20:
        raise Invalid("label_dimensions: at most 20", field="label_dimensions")
    return list(dict.fromkeys(keys))
