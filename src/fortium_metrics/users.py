"""Users of an organisation."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from . import audit, validation
from .lookup import find_one
from .pagination import PageQuery, paginate
from .permissions import authorize
from .errors import Conflict, Invalid
from .principal import ROLES
from .store.models import AgentSession, MetricEvent, RefreshToken, TeamMembership, User
from .store.uow import UnitOfWork


async def create_user(uow: UnitOfWork, email: str, name: str = "", role: str = "developer",
                      external_id: str | None = None) -> User:
    await authorize(uow, "users.create")
    email = validation.email(email)
    role = validation.one_of(role, ROLES, "role")
    if await uow.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"email: a user with e-mail {email!r} already exists in this organisation", field="email")
    user = User(email=email, name=name.strip(), role=role, external_id=external_id, active=True)
    uow.session.add(user)
    await uow.session.flush()
    audit.record(uow, "user.create", target=email, role=role)
    return user


async def list_users(uow: UnitOfWork) -> list[User]:
    await authorize(uow, "users.list")
    return list(await uow.session.scalars(select(User).order_by(User.email)))


async def search_users(uow: UnitOfWork, page: PageQuery, role: str | None = None, active: bool | None = None,
                       q: str | None = None, team: str | None = None) -> tuple[list[User], int]:
    await authorize(uow, "users.list")
    query = select(User).order_by(User.email)
    if team:
        from .teams import get_team  # teams.py imports this module

        team_id = (await get_team(uow, team)).id
        query = query.where(User.id.in_(select(TeamMembership.user_id).where(TeamMembership.team_id == team_id)))
    if role:
        query = query.where(User.role == validation.one_of(role, ROLES, "role"))
    if active is not None:
        query = query.where(User.active.is_(active))
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(User.email.like(pattern) | func.lower(User.name).like(pattern))
    return await paginate(uow, query, page)


async def update_user(uow: UnitOfWork, ref: str, *, name: str | None = None, role: str | None = None,
                      active: bool | None = None) -> User:
    """Change a user; `active=False` deactivates (their data is kept, their sign-ins and keys stop)."""
    await authorize(uow, "users.update")
    user = await get_user(uow, ref)
    if user.role == "admin" and user.active:
        if role is not None and role != "admin":
            await _keep_an_admin(uow, user, "role")
        if active is False:
            await _keep_an_admin(uow, user, "active")
    if name is not None:
        user.name = validation.non_empty(name, "name")
    if role is not None and role != user.role:
        audit.record(uow, "user.role", target=user.email, old=user.role, new=validation.one_of(role, ROLES, "role"))
        user.role = role
    if active is not None and active != user.active:
        if not active and user.id == uow.principal.user_id:
            raise Invalid("active: you cannot deactivate yourself", field="active")
        audit.record(uow, "user.deactivate" if not active else "user.reactivate", target=user.email)
        user.active = active
    await uow.session.flush()
    return user


async def _keep_an_admin(uow: UnitOfWork, user: User, field: str) -> None:
    """Refuse to demote or deactivate the organisation's last active administrator: nobody could
    administer it any more. The admins' rows are locked (PostgreSQL), so two admins demoting each
    other at once cannot both succeed."""
    admins = set(await uow.session.scalars(
        select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update()))
    if admins <= {user.id}:
        raise Conflict(f"{field}: {user.email} is the organisation's last active administrator; "
                       "make someone else an administrator first", field=field)


async def show_user(uow: UnitOfWork, ref: str | uuid.UUID) -> User:
    await authorize(uow, "users.list")
    return await get_user(uow, ref)


async def get_user(uow: UnitOfWork, ref: str | uuid.UUID) -> User:
    """By id or e-mail, inside the caller's organisation (another organisation's user is NotFound)."""
    return await find_one(uow, User, ref, User.email, "user", natural_value=str(ref).lower())


@dataclass(frozen=True)
class Activity:
    last_sign_in: datetime | None
    last_session: datetime | None

    @property
    def last(self) -> datetime | None:
        return max(filter(None, (self.last_sign_in, self.last_session)), default=None)


async def activity(uow: UnitOfWork, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Activity]:
    """When each of these users last signed in and last started a Claude Code session (a page's
    worth of users: two grouped queries)."""
    await authorize(uow, "users.list")
    if not user_ids:
        return {}
    signed_in = dict((await uow.session.execute(select(RefreshToken.user_id, func.max(RefreshToken.issued_at))
                                                .where(RefreshToken.user_id.in_(user_ids))
                                                .group_by(RefreshToken.user_id))).all())
    sessions = dict((await uow.session.execute(select(AgentSession.user_id, func.max(AgentSession.started_at))
                                               .where(AgentSession.user_id.in_(user_ids))
                                               .group_by(AgentSession.user_id))).all())
    return {user_id: Activity(signed_in.get(user_id), sessions.get(user_id)) for user_id in user_ids}


@dataclass(frozen=True)
class FirstEvents:
    first: datetime | None
    last: datetime | None
    count: int  # events and sessions


async def my_events(uow: UnitOfWork) -> FirstEvents:
    """When the signed-in person's first and latest events arrived ("Connect Claude Code": did it work?)."""
    await authorize(uow, "metrics.read")
    me = uow.principal.user_id
    if me is None:
        return FirstEvents(None, None, 0)
    # A session start is a row of agent_sessions, the rest rows of metric_events: the first of either.
    first, last, count = (await uow.session.execute(
        select(func.min(MetricEvent.occurred_at), func.max(MetricEvent.occurred_at), func.count())
        .where(MetricEvent.user_id == me))).one()
    started, latest, sessions = (await uow.session.execute(
        select(func.min(AgentSession.started_at), func.max(AgentSession.started_at), func.count())
        .where(AgentSession.user_id == me))).one()
    return FirstEvents(min(filter(None, (first, started)), default=None), max(filter(None, (last, latest)), default=None),
                       (count or 0) + (sessions or 0))
