"""Authorisation, in one place: who may do what (ACTIONS) and whose data they may read (scope_filters).

Roles: admin > manager > developer; the team role `lead` adds the right to read the team's members
(and publish the team's default dashboard). Who is in a team, and who leads it, only managers and
admins decide: membership is what a lead's reads follow, so a lead changing it could read anyone.
API keys carry scopes (ingest, read, admin); a key bound to a user acts with that user's role,
an organisation key acts as `manager` for reads when it has the read scope (dashboards,
integrations) and as `admin` only with the admin scope. docs/permissions.md renders this table.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from .errors import Forbidden
from .principal import Principal
from .store.models import TeamMembership
from .store.uow import UnitOfWork

ALL = frozenset({"admin", "manager", "developer"})
STAFF = frozenset({"admin", "manager"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    scope: str
    text: str
    team_lead_may: bool = False  # a lead of the team concerned may, whatever their role


ACTIONS: dict[str, Rule] = {
    "events.record": Rule(ALL, "ingest", "record sessions, tool uses, agents, commands, tasks, metrics"),
    "metrics.read": Rule(ALL, "read", "read summaries and statistics (rows limited by scope_filters)"),
    "users.list": Rule(STAFF, "read", "list the organisation's users", team_lead_may=True),
    "users.create": Rule(ADMIN, "admin", "create users"),
    "users.update": Rule(ADMIN, "admin", "change a user's name, role or active flag (deactivate)"),
    "users.password": Rule(ADMIN, "admin", "set a user's password (ends that user's sign-in sessions)"),
    "teams.list": Rule(ALL, "read", "list teams"),
    "teams.create": Rule(ADMIN, "admin", "create teams"),
    # Managers and admins only, never a lead: a lead reads their team's members, so a lead who
    # could add people (or make them leads) could read anyone. Managers read every team anyway.
    "teams.members": Rule(STAFF, "read", "add, change or remove team members and their team role (lead, member)"),
    "projects.list": Rule(ALL, "read", "list projects"),
    "projects.write": Rule(STAFF, "read", "create, update, archive projects"),
    "apikeys.manage": Rule(ADMIN, "admin", "create, list and revoke the organisation's API keys"),
    "apikeys.own": Rule(ALL, "read", "create, list and revoke API keys bound to themselves (ingest and read scopes)"),
    "org.read": Rule(STAFF, "read", "read organisation settings"),
    "org.update": Rule(ADMIN, "admin", "change organisation settings (retention, unknown users, limits)"),
    "audit.read": Rule(ADMIN, "admin", "read the audit log"),
    "sso.configure": Rule(ADMIN, "admin", "configure single sign-on"),
    "dashboards.read": Rule(ALL, "read", "open their own dashboard layouts and the defaults published to them"),
    "dashboards.write": Rule(ALL, "read", "save, change and delete their own dashboard layouts"),
    "dashboards.publish_team": Rule(STAFF, "read", "publish a layout as a team's default, or withdraw one",
                                    team_lead_may=True),
    "dashboards.publish_org": Rule(STAFF, "read", "publish a layout as the organisation's default, or withdraw one"),
}


async def authorize(uow: UnitOfWork, action: str, team_id: uuid.UUID | None = None) -> None:
    """Raise Forbidden unless the principal may perform `action` (for `team_id`, when given)."""
    principal = uow.principal
    rule = ACTIONS[action]
    if principal.kind == "system":
        return
    if rule.scope not in principal.scopes:
        raise Forbidden(f"this credential lacks the {rule.scope!r} scope needed to {rule.text}")
    if principal.role in rule.roles:
        return
    if rule.team_lead_may and await led_teams(uow, principal, only=team_id):
        return
    raise Forbidden(f"your role ({principal.role}) may not {rule.text}")


async def led_teams(uow: UnitOfWork, principal: Principal, only: uuid.UUID | None = None) -> set[uuid.UUID]:
    if principal.user_id is None:
        return set()
    query = select(TeamMembership.team_id).where(TeamMembership.user_id == principal.user_id, TeamMembership.role == "lead")
    if only is not None:
        query = query.where(TeamMembership.team_id == only)
    return set(await uow.session.scalars(query))


async def member_teams(uow: UnitOfWork, principal: Principal) -> set[uuid.UUID]:
    if principal.user_id is None:
        return set()
    return set(await uow.session.scalars(select(TeamMembership.team_id).where(TeamMembership.user_id == principal.user_id)))


async def members_of(uow: UnitOfWork, teams: set[uuid.UUID]) -> set[uuid.UUID]:
    if not teams:
        return set()
    return set(await uow.session.scalars(select(TeamMembership.user_id).where(TeamMembership.team_id.in_(teams))))


async def live_rooms(uow: UnitOfWork) -> tuple[set[uuid.UUID], bool]:
    """Which live updates (web/live.py) the principal hears besides their organisation's: the teams
    they belong to, and (True) every team's when they read every team (managers, admins)."""
    await authorize(uow, "metrics.read")
    principal = uow.principal
    return await member_teams(uow, principal), principal.kind == "system" or principal.role in STAFF


async def dashboard_audience(uow: UnitOfWork) -> tuple[set[uuid.UUID], bool]:
    """Whose published dashboards apply to the principal: the teams they belong to, and (True)
    every team's for those who read every team (they may also withdraw them)."""
    await authorize(uow, "dashboards.read")
    return await member_teams(uow, uow.principal), uow.principal.role in STAFF


async def authorize_publishing(uow: UnitOfWork, to: str, team_id: uuid.UUID | None) -> None:
    """Publishing to (or withdrawing from) a team: its leads, managers, admins; to the organisation:
    managers and admins."""
    if to == "organization":
        await authorize(uow, "dashboards.publish_org")
    else:
        await authorize(uow, "dashboards.publish_team", team_id)


async def reads_members(uow: UnitOfWork, team_id: uuid.UUID | None) -> bool:
    """Whether per-person figures are the principal's to read: of everyone (team_id None) for
    managers and admins; of a team for them and the team's leads (as scope_filters allows)."""
    principal = uow.principal
    if principal.kind == "system" or principal.role in STAFF:
        return True
    return team_id is not None and team_id in await led_teams(uow, principal, only=team_id)


async def home_team(uow: UnitOfWork) -> uuid.UUID | None:
    """The team a page about "my team" opens on: the first the principal leads, else the first they
    belong to; None for managers and admins (they read every team) and people in no team."""
    principal = uow.principal
    if principal.kind == "system" or principal.role in STAFF:
        return None
    led = sorted(await led_teams(uow, principal))
    return led[0] if led else min(await member_teams(uow, principal), default=None)


@dataclass(frozen=True)
class Scope:
    """What a read may cover after applying the rules: a user, a team, or (None, None) all."""

    user_id: uuid.UUID | None
    team_id: uuid.UUID | None


async def scope_filters(uow: UnitOfWork, user_id: uuid.UUID | None, team_id: uuid.UUID | None,
                        individual: bool) -> Scope:
    """Narrow a read to what the principal may see.

    `individual` reads show rows per person (activity, sessions); aggregates do not. Managers and
    admins read everything. A lead reads their teams and those teams' members. A developer reads
    their own data, and aggregates (never rows) of a team they belong to — anonymised by being
    sums. Without filters a developer's read is their own data.
    """
    await authorize(uow, "metrics.read")
    principal = uow.principal
    if principal.kind == "system" or principal.role in STAFF:
        return Scope(user_id, team_id)
    led = await led_teams(uow, principal)
    if user_id is not None and user_id != principal.user_id:
        if user_id not in await members_of(uow, led):
            raise Forbidden("you may read other people's data only for teams you lead")
        return Scope(user_id, team_id)
    if team_id is not None and user_id is None:
        if team_id in led:
            return Scope(None, team_id)
        if not individual and team_id in await member_teams(uow, principal):
            return Scope(None, team_id)
        raise Forbidden("team data: a team's aggregates are for its members; its rows for its leads")
    if principal.user_id is None:
        raise Forbidden("this credential has no user: use a key with the read scope or a user's key")
    return Scope(principal.user_id, team_id)
