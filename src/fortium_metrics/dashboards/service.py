"""Dashboards: one function per action, for REST, MCP and the CLI alike. The rules (who may
read, change and publish what) are permissions.py's; tenancy is the unit of work's.

Visible to a person: their own layouts, the organisation's published defaults, and the defaults
of the teams they belong to (managers and admins: every team's). Changing or deleting a layout is
its owner's; a published one also needs the right to publish where it is published, so a lead who
stepped down no longer changes the team's default. Withdrawing a default is for anyone who may
publish there. Another organisation's layout, or one not visible, is not found.
"""
from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select

from .. import audit
from ..errors import Forbidden, Invalid, NotFound
from ..lookup import find_one
from ..permissions import authorize, authorize_publishing, dashboard_audience, led_teams
from ..store.models import Organization, Team
from ..store.types import utcnow
from ..store.uow import UnitOfWork
from .defaults import built_in
from .layout import DashboardList, DashboardOut, LayoutIn, LayoutUpdate, PublishIn, check_widgets
from .models import ORGANIZATION, TEAM, Dashboard

DEFAULT = "default"  # the reference of whatever /dashboards opens (DashboardList.default)


def _me(uow: UnitOfWork) -> uuid.UUID:
    if uow.principal.user_id is None:
        raise Forbidden("dashboards belong to a person: sign in, or use an API key bound to a user")
    return uow.principal.user_id


def _out(row: Dashboard, me: uuid.UUID) -> DashboardOut:
    return DashboardOut(id=row.id, name=row.name, widgets=row.widgets, owner_id=row.owner_id,
                        published_to=row.published_to, team_id=row.team_id, mine=row.owner_id == me,
                        created_at=row.created_at, updated_at=row.updated_at)


async def _visible(uow: UnitOfWork) -> list[Dashboard]:
    """Every layout the principal may open, theirs first (latest first), then the defaults."""
    me = _me(uow)
    teams, every_team = await dashboard_audience(uow)
    team_default = Dashboard.published_to == TEAM
    if not every_team:
        team_default = and_(team_default, Dashboard.team_id.in_(teams))
    rows = await uow.session.scalars(select(Dashboard).where(
        or_(Dashboard.owner_id == me, Dashboard.published_to == ORGANIZATION, team_default)))
    return sorted(rows, key=lambda r: (r.owner_id != me, r.published_to is not None, -r.updated_at.timestamp(),
                                       r.name))


async def list_dashboards(uow: UnitOfWork) -> DashboardList:
    me = _me(uow)
    rows = await _visible(uow)
    return DashboardList(items=[_out(r, me) for r in rows], default=await _default(uow, rows))


async def _default(uow: UnitOfWork, rows: list[Dashboard]) -> DashboardOut:
    me = _me(uow)
    mine = [r for r in rows if r.owner_id == me]
    teams, every_team = await dashboard_audience(uow)
    published = sorted((r for r in rows if r.published_to), key=lambda r: r.published_at or r.updated_at, reverse=True)
    chosen = (mine[:1] or [r for r in published if r.published_to == TEAM and r.team_id in teams][:1]
              or [r for r in published if r.published_to == ORGANIZATION][:1])
    if chosen:
        return _out(chosen[0], me)
    layout = built_in(every_team, bool(await led_teams(uow, uow.principal)))
    return DashboardOut(id=None, name=layout.name, widgets=layout.widgets, builtin=True)


async def get_dashboard(uow: UnitOfWork, ref: str) -> DashboardOut:
    """A layout by id, or `default`: the one /dashboards opens."""
    rows = await _visible(uow)
    if ref == DEFAULT:
        return await _default(uow, rows)
    return _out(_find(rows, ref), _me(uow))


def _find(rows: list[Dashboard], ref: str) -> Dashboard:
    try:
        wanted = uuid.UUID(str(ref))
    except ValueError:
        wanted = None
    found = next((r for r in rows if r.id == wanted), None)
    if found is None:
        raise NotFound(f"dashboard_id: no dashboard {str(ref)[:64]!r} that you may open", field="dashboard_id")
    return found


async def _checked(uow: UnitOfWork, widgets) -> list[dict]:
    org = await uow.session.scalar(select(Organization).where(Organization.id == uow.principal.organization_id))
    check_widgets(widgets, (org.settings or {}) if org else {})
    return [w.model_dump(exclude_none=True) for w in widgets]


async def create_dashboard(uow: UnitOfWork, layout: LayoutIn) -> DashboardOut:
    await authorize(uow, "dashboards.write")
    me = _me(uow)
    now = utcnow()
    row = Dashboard(owner_id=me, name=layout.name, widgets=await _checked(uow, layout.widgets), created_at=now,
                    updated_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return _out(row, me)


async def _own(uow: UnitOfWork, ref: str) -> Dashboard:
    await authorize(uow, "dashboards.write")
    row = _find(await _visible(uow), ref)
    if row.owner_id != _me(uow):
        raise Forbidden("only its owner may change a layout: save your own copy (POST /api/dashboards)")
    if row.published_to:
        await authorize_publishing(uow, row.published_to, row.team_id)
    return row


async def update_dashboard(uow: UnitOfWork, ref: str, update: LayoutUpdate) -> DashboardOut:
    row = await _own(uow, ref)
    if update.name is not None:
        row.name = update.name
    if update.widgets is not None:
        row.widgets = await _checked(uow, update.widgets)
    row.updated_at = utcnow()
    await uow.session.flush()
    return _out(row, row.owner_id)


async def delete_dashboard(uow: UnitOfWork, ref: str) -> DashboardOut:
    row = await _own(uow, ref)
    gone = _out(row, row.owner_id)
    await uow.session.delete(row)
    await uow.session.flush()
    if gone.published_to:
        audit.record(uow, "dashboard.delete", target=gone.name, published_to=gone.published_to)
    return gone


async def publish_dashboard(uow: UnitOfWork, ref: str, where: PublishIn) -> DashboardOut:
    await authorize(uow, "dashboards.publish_team")  # may publish somewhere at all (the narrowest right)
    row = await _own(uow, ref)
    team_id = None
    if where.to == TEAM:
        if not where.team:
            raise Invalid("team: name the team (slug or id) whose default this becomes", field="team")
        team_id = (await find_one(uow, Team, where.team, Team.slug, "team")).id
    await authorize_publishing(uow, where.to, team_id)
    row.published_to, row.team_id, row.published_at = where.to, team_id, utcnow()
    await uow.session.flush()
    audit.record(uow, "dashboard.publish", target=row.name, to=where.to, team=str(team_id) if team_id else None)
    return _out(row, row.owner_id)


async def unpublish_dashboard(uow: UnitOfWork, ref: str) -> DashboardOut:
    await authorize(uow, "dashboards.publish_team")
    row = _find(await _visible(uow), ref)
    if row.published_to is None:  # nothing to withdraw
        return _out(row, _me(uow))
    await authorize_publishing(uow, row.published_to, row.team_id)
    row.published_to, row.team_id, row.published_at = None, None, None
    await uow.session.flush()
    audit.record(uow, "dashboard.unpublish", target=row.name)
    return _out(row, _me(uow))
