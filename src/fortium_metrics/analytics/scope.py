"""Who sees what in analytics: permissions.py's read rules applied to a query.

* Managers and admins (and organisation keys with the read scope) read everything.
* A lead reads the teams they lead, per member too.
* A developer reads their own data, and the aggregates of a team they belong to — anonymised:
  never per person or session, and a cell (or total) made from fewer than the organisation's
  minimum group size of people (`min_group_size`, default 5) is withheld.
* Without a person or team filter, a lead's or developer's read is their own data.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..errors import Forbidden
from ..permissions import STAFF, authorize, led_teams, member_teams, members_of
from ..store.uow import UnitOfWork

INDIVIDUAL = ("user", "session")
DEFAULT_MIN_GROUP = 5


@dataclass(frozen=True)
class Visibility:
    restrict_users: set[uuid.UUID] | None = None
    anonymised: bool = False


async def visibility(uow: UnitOfWork, filters: dict[str, list], group_by: list[str]) -> Visibility:
    await authorize(uow, "metrics.read")
    principal = uow.principal
    if principal.kind == "system" or principal.role in STAFF:
        return Visibility()
    led = await led_teams(uow, principal)
    users, teams = filters.get("user"), filters.get("team")
    if users:
        allowed = await members_of(uow, led) | {principal.user_id}
        if not set(users) <= allowed:
            raise Forbidden("you may read other people's data only for teams you lead")
        return Visibility()
    if teams:
        return await _team_read(uow, set(teams), led, group_by)
    if principal.user_id is None:
        raise Forbidden("this credential has no user: use a key with the read scope or a user's key")
    return Visibility(restrict_users={principal.user_id})


async def _team_read(uow: UnitOfWork, teams: set[uuid.UUID], led: set[uuid.UUID], group_by: list[str]) -> Visibility:
    if teams <= led:
        return Visibility()
    if not teams - led <= await member_teams(uow, uow.principal):
        raise Forbidden("team data: a team's aggregates are for its members; its rows for its leads")
    individual = [name for name in group_by if name in INDIVIDUAL]
    if individual:
        raise Forbidden(f"group_by: {individual[0]!r} would show single people of a team you do not lead; "
                        "its members see only the team's anonymised totals")
    return Visibility(anonymised=True)
