"""Organisations: the tenants."""
from __future__ import annotations

from sqlalchemy import select

from . import audit, validation
from .errors import Conflict, Forbidden, Invalid, NotFound
from .permissions import authorize
from .store.models import Organization
from .store.rollup_writer import new_org_state
from .store.uow import UnitOfWork


async def create_organization(uow: UnitOfWork, name: str, slug: str | None = None,
                              data_retention_days: int = 365) -> Organization:
    if not uow.principal.is_system:
        raise Forbidden("only an operator can create organisations")
    name = validation.non_empty(name, "name")
    slug = validation.slug(slug or validation.slugify(name))
    if data_retention_days < 1:
        raise Invalid("data_retention_days: must be at least 1", field="data_retention_days")
    if await uow.session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise Conflict(f"slug: an organisation with slug {slug!r} already exists", field="slug")
    org = Organization(name=name, slug=slug, data_retention_days=data_retention_days, settings={}, limits={})
    uow.session.add(org)
    await uow.session.flush()
    uow.session.add(new_org_state(org.id))  # no events yet: its (empty) rollups are current
    audit.record(uow, "org.create", target=slug, organization_id=org.id)
    return org


async def list_organizations(uow: UnitOfWork) -> list[Organization]:
    return list(await uow.session.scalars(select(Organization).order_by(Organization.slug)))


async def get_by_slug(uow: UnitOfWork, slug: str) -> Organization:
    org = await uow.session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise NotFound(f"org: no organisation with slug {slug!r}", field="org")
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
        if not 1 <= data_retention_days <= 3650:
            raise Invalid("data_retention_days: between 1 and 3650", field="data_retention_days")
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
