"""Resolves the user, team and project an event names, inside the caller's organisation.

Unknown users: the organisation setting `unknown_users` decides — `create` (default: a developer
is created just in time, keyed by e-mail or external id, so a new laptop's data is never lost) or
`reject` (the item is rejected naming the field). Unknown projects are created (Claude Code names
them by repository); unknown teams are rejected (teams are an administrative choice).
"""
from __future__ import annotations

import hashlib
import time
import uuid

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import validation
from .errors import Invalid
from .store.models import Organization, Project, Team, TeamMembership, User
from .store.uow import UnitOfWork


def _as_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


_EXTERNAL_ID_LENGTH, _NAME_LENGTH = User.__table__.c.external_id.type.length, User.__table__.c.name.type.length


def _external_email(ref: str) -> str:
    """The placeholder e-mail of a user created from an external id. Readable, and unique per id:
    e-mails are unique in an organisation, and ids that slugify alike ("Foo Bar", "foo-bar") are
    different people."""
    return f"{validation.slugify(ref)[:48]}-{hashlib.sha256(ref.encode()).hexdigest()[:10]}@external.invalid"


class TeamsOfPeople:
    """Which team each person's events count for, remembered for a minute across transactions:
    every MCP call or hook names the same people, and one query per call would cost more than
    the rest of recording the event. A membership change applies to events recorded within a
    minute of it (in every process)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        self._found: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, uuid.UUID | None]] = {}

    def get(self, org: uuid.UUID, user: uuid.UUID) -> tuple[bool, uuid.UUID | None]:
        found = self._found.get((org, user))
        if found is None or time.monotonic() - found[0] > self.seconds:
            return False, None
        return True, found[1]

    def put(self, org: uuid.UUID, user: uuid.UUID, team: uuid.UUID | None) -> None:
        if len(self._found) > 100_000:  # a bound, not an eviction policy: rebuilt as people call again
            self._found.clear()
        self._found[(org, user)] = (time.monotonic(), team)


class Resolver:
    """One per transaction; caches lookups so a batch of 5,000 events costs a few queries."""

    def __init__(self, uow: UnitOfWork, teams_of_people: TeamsOfPeople | None = None) -> None:
        self.uow = uow
        self.teams_of_people = teams_of_people or TeamsOfPeople()
        self._users: dict[str, uuid.UUID] = {}
        self._teams: dict[str, uuid.UUID | None] = {}
        self._projects: dict[str, uuid.UUID] = {}
        self._policy: str | None = None

    async def _unknown_user_policy(self) -> str:
        if self._policy is None:
            org = await self.uow.session.scalar(select(Organization))
            self._policy = (org.settings or {}).get("unknown_users", "create") if org else "create"
        return self._policy

    async def user(self, ref: str | None, default: uuid.UUID | None, may_name_others: bool) -> uuid.UUID | None:
        if ref is None:
            return default
        if ref not in self._users:
            self._users[ref] = await self._find_or_create_user(ref)
        found = self._users[ref]
        if default is not None and found != default and not may_name_others:
            raise Invalid("user: this API key records for its own user only", field="user")
        return found

    async def _find_or_create_user(self, ref: str) -> uuid.UUID:
        as_id = _as_uuid(ref)
        condition = User.id == as_id if as_id else or_(User.email == ref.lower(), User.external_id == ref)
        found = await self.uow.session.scalar(select(User.id).where(condition))
        if found:
            return found
        if as_id or await self._unknown_user_policy() == "reject":
            raise Invalid(f"user: no user {ref!r} in this organisation", field="user")
        is_email = validation.EMAIL_RE.match(ref) is not None
        if not is_email and len(ref) > _EXTERNAL_ID_LENGTH:
            raise Invalid(f"user: an external id is at most {_EXTERNAL_ID_LENGTH} characters (got {len(ref)})", field="user")
        return await self._create_once(User, condition, {
            "email": ref.lower() if is_email else _external_email(ref),
            "external_id": None if is_email else ref, "name": ref[:_NAME_LENGTH], "role": "developer", "active": True})

    async def _create_once(self, model, lookup, values: dict) -> uuid.UUID:
        """Create just in time, safe against another process creating the same row at the same
        moment (several servers, import workers): insert-or-ignore, then read whichever row won."""
        dialect_insert = pg_insert if self.uow.dialect == "postgresql" else sqlite_insert
        await self.uow.session.execute(dialect_insert(model).on_conflict_do_nothing(), [values])
        return await self.uow.session.scalar(select(model.id).where(lookup))

    async def team(self, ref: str | None, strict: bool = True) -> uuid.UUID | None:
        if ref is None:
            return None
        if ref not in self._teams:
            as_id = _as_uuid(ref)
            self._teams[ref] = await self.uow.session.scalar(
                select(Team.id).where(Team.id == as_id if as_id else Team.slug == ref))
        if self._teams[ref] is None and strict:
            raise Invalid(f"team: no team {ref!r} in this organisation", field="team")
        return self._teams[ref]

    async def team_of(self, user_id: uuid.UUID | None) -> uuid.UUID | None:
        """The team an event of this person counts for when it names none: the team they joined
        first (one team per event, so team totals add up to the organisation's)."""
        if user_id is None:
            return None
        org = self.uow.principal.organization_id
        known, team = self.teams_of_people.get(org, user_id)
        if not known:
            team = await self.uow.session.scalar(
                select(TeamMembership.team_id).where(TeamMembership.user_id == user_id)
                .order_by(TeamMembership.created_at, TeamMembership.team_id).limit(1))
            self.teams_of_people.put(org, user_id, team)
        return team

    async def project(self, ref: str | None, team_id: uuid.UUID | None) -> uuid.UUID | None:
        if ref is None:
            return None
        if ref not in self._projects:
            as_id = _as_uuid(ref)
            found = await self.uow.session.scalar(
                select(Project.id).where(Project.id == as_id if as_id else Project.name == ref))
            if found is None:
                if as_id:
                    raise Invalid(f"project: no project {ref!r} in this organisation", field="project")
                found = await self._create_once(Project, Project.name == ref,
                                                {"name": ref, "team_id": team_id, "status": "active"})
            self._projects[ref] = found
        return self._projects[ref]
