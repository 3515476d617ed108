"""Organisations: the tenants."""
from __future__ import annotations

from sqlalchemy import select

from . import audit, validation
from .errors import Conflict, Forbidden, Invalid, NotFound
from .permissions import authorize
from .store.models import Organization
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
                          unknown_users: str | None = None) -> Organization:
    """Admins only; every change is audited with its old and new value."""
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
    if changes:
        audit.record(uow, "org.settings", target=org.slug, **{k: {"old": o, "new": n} for k, (o, n) in changes.items()})
    await uow.session.flush()
    return org
