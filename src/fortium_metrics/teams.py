"""Teams and their members."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from . import audit, validation
from .errors import Conflict, NotFound
from .lookup import find_one
from .permissions import authorize
from .store.models import Team, TeamMembership, User
from .store.types import utcnow
from .store.uow import UnitOfWork
from .users import get_user

TEAM_ROLES = ("lead", "member")


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    email: str
    name: str
    role: str  # the team role: lead | member


async def create_team(uow: UnitOfWork, name: str, slug: str | None = None, description: str = "") -> Team:
    await authorize(uow, "teams.create")
    name = validation.non_empty(name, "name")
    slug = validation.slug(slug or validation.default_slug(name))
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


async def remove_member(uow: UnitOfWork, team_ref: str, user_ref: str) -> User:
    """Take USER out of the team (their account and data stay); the removed user is returned."""
    team = await get_team(uow, team_ref)
    await authorize(uow, "teams.members", team_id=team.id)
    user = await get_user(uow, user_ref)
    membership = await uow.session.get(TeamMembership, (uow.principal.organization_id, team.id, user.id))
    if membership is None:
        raise NotFound(f"user: {user.email} is not a member of team {team.slug!r}", field="user")
    await uow.session.delete(membership)
    await uow.session.flush()
    audit.record(uow, "team.member.remove", target=team.slug, user=user.email)
    return user


async def list_members(uow: UnitOfWork, team_ref: str) -> list[tuple[str, str]]:
    await authorize(uow, "teams.list")
    return [(m.email, m.role) for m in await _members(uow, await get_team(uow, team_ref))]


async def show_team(uow: UnitOfWork, team_ref: str) -> tuple[Team, list[Member]]:
    await authorize(uow, "teams.list")
    team = await get_team(uow, team_ref)
    return team, await _members(uow, team)


async def member_counts(uow: UnitOfWork) -> dict:
    """{team id: how many members} for every team that has any, in one query."""
    await authorize(uow, "teams.list")
    rows = await uow.session.execute(select(TeamMembership.team_id, func.count()).group_by(TeamMembership.team_id))
    return dict(rows.all())


async def teams_of(uow: UnitOfWork, user_ref: str) -> list[tuple[Team, str]]:
    """The teams a user belongs to, with their team role, by team slug."""
    await authorize(uow, "teams.list")
    user = await get_user(uow, user_ref)
    rows = await uow.session.execute(
        select(Team, TeamMembership.role)
        .join(TeamMembership, (TeamMembership.team_id == Team.id) & (TeamMembership.organization_id == Team.organization_id))
        .where(TeamMembership.user_id == user.id)
        .order_by(Team.slug)
    )
    return [(team, role) for team, role in rows]


async def _members(uow: UnitOfWork, team: Team) -> list[Member]:
    rows = await uow.session.execute(
        select(User.id, User.email, User.name, TeamMembership.role)
        .join(TeamMembership, (TeamMembership.user_id == User.id) & (TeamMembership.organization_id == User.organization_id))
        .where(TeamMembership.team_id == team.id)
        .order_by(User.email)
    )
    return [Member(*row) for row in rows]


async def update_team(uow: UnitOfWork, team_ref: str, *, name: str | None = None, description: str | None = None,
                      archived: bool | None = None) -> Team:
    """Rename a team, change its description, archive it (its members and history stay; it can be
    restored) or restore it. Admins only, like creating one; every change audited."""
    await authorize(uow, "teams.create")
    team = await get_team(uow, team_ref)
    changes = {}
    if name is not None and (name := validation.non_empty(name, "name")) != team.name:
        changes["name"] = {"old": team.name, "new": name}
        team.name = name
    if description is not None and description.strip() != team.description:
        changes["description"] = {"old": team.description, "new": description.strip()}
        team.description = description.strip()
    if changes:
        audit.record(uow, "team.update", target=team.slug, **changes)
    if archived is not None and archived != (team.archived_at is not None):
        team.archived_at = utcnow() if archived else None
        audit.record(uow, "team.archive" if archived else "team.restore", target=team.slug)
    await uow.session.flush()
    return team
