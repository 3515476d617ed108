"""Teams and their members."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from . import audit, validation
from .lookup import find_one
from .permissions import authorize
from .errors import Conflict
from .store.models import Team, TeamMembership, User
from .store.uow import UnitOfWork
from .users import get_user

TEAM_ROLES = ("lead", "member")


async def create_team(uow: UnitOfWork, name: str, slug: str | None = None, description: str = "") -> Team:
    await authorize(uow, "teams.create")
    name = validation.non_empty(name, "name")
    slug = validation.slug(slug or validation.slugify(name))
    if await uow.session.scalar(select(Team.id).where(Team.slug == slug)):
        raise Conflict(f"slug: a team with slug {slug!r} already exists in this organisation", field="slug")
    team = Team(name=name, slug=slug, description=description)
    uow.session.add(team)
    await uow.session.flush()
    audit.record(uow, "team.create", target=slug)
    return team


async def get_team(uow: UnitOfWork, ref: str | uuid.UUID) -> Team:
    return await find_one(uow, Team, ref, Team.slug, "team")


async def list_teams(uow: UnitOfWork) -> list[Team]:
    await authorize(uow, "teams.list")
    return list(await uow.session.scalars(select(Team).order_by(Team.slug)))


async def add_member(uow: UnitOfWork, team_ref: str, user_ref: str, role: str = "member") -> TeamMembership:
    role = validation.one_of(role, TEAM_ROLES, "role")
    team = await get_team(uow, team_ref)
    await authorize(uow, "teams.members", team_id=team.id)
    user = await get_user(uow, user_ref)
    membership = await uow.session.get(TeamMembership, (uow.principal.organization_id, team.id, user.id))
    if membership is None:
        membership = TeamMembership(team_id=team.id, user_id=user.id, role=role)
        uow.session.add(membership)
    else:
        membership.role = role
    await uow.session.flush()
    audit.record(uow, "team.member", target=team.slug, user=user.email, role=role)
    return membership


async def list_members(uow: UnitOfWork, team_ref: str) -> list[tuple[str, str]]:
    await authorize(uow, "teams.list")
    team = await get_team(uow, team_ref)
    rows = await uow.session.execute(
        select(User.email, TeamMembership.role)
        .join(TeamMembership, (TeamMembership.user_id == User.id) & (TeamMembership.organization_id == User.organization_id))
        .where(TeamMembership.team_id == team.id)
        .order_by(User.email)
    )
    return [(email, role) for email, role in rows]
