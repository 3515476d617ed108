"""Teams: create, rename, archive or restore; add and remove members, make someone a lead. Through
teams.py, so a lead's rights and the rest of permissions.py apply exactly as over REST."""
from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ... import teams, users
from ...errors import Invalid
from ...permissions import authorize
from ...store.uow import UnitOfWork
from .admin_common import FormState, admin_page, back, render_admin, submit, text


@admin_page("teams")
async def teams_page(request: Request, uow: UnitOfWork, form: FormState | None = None) -> Response:
    found = await teams.list_teams(uow)
    sizes = await teams.member_counts(uow)
    return await render_admin(request, uow, "teams", "admin/teams.html", form=form, title="Teams",
                              intro="Teams group people for dashboards and permissions; leads see their members' data.",
                              teams=[t for t in found if t.archived_at is None], sizes=sizes,
                              archived=[t for t in found if t.archived_at is not None])


@submit("teams.create", "create", teams_page.view)
async def create_team(uow: UnitOfWork, data: FormData, request: Request) -> str:
    team = await teams.create_team(uow, text(data, "name"), text(data, "slug") or None, text(data, "description"))
    return back(f"/admin/teams/{team.slug}", f"Team {team.name} was created. Add its members.")


@admin_page("teams")
async def team_page(request: Request, uow: UnitOfWork, form: FormState | None = None) -> Response:
    team, members = await teams.show_team(uow, request.path_params["team_id"])
    in_team = {m.user_id for m in members}
    candidates = [u for u in await users.list_users(uow) if u.active and u.id not in in_team]
    return await render_admin(request, uow, "teams", "admin/team.html", form=form, title=team.name,
                              intro=team.description or f"Team “{team.slug}”", team=team, members=members,
                              candidates=candidates)


def _team_path(request: Request, slug: str | None = None) -> str:
    return f"/admin/teams/{slug or request.path_params['team_id']}"


@submit("teams.create", "rename", team_page.view)
async def rename_team(uow: UnitOfWork, data: FormData, request: Request) -> str:
    await teams.update_team(uow, request.path_params["team_id"], name=text(data, "name"),
                            description=text(data, "description"))
    return back(_team_path(request), "Saved.")


@submit("teams.create", "archive", team_page.view)
async def archive_team(uow: UnitOfWork, data: FormData, request: Request) -> str:
    archived = text(data, "archived") == "1"
    team = await teams.update_team(uow, request.path_params["team_id"], archived=archived)
    return back(_team_path(request), f"{team.name} was {'archived' if archived else 'restored'}.")


# Members: the team's leads may too (permissions.py `teams.members`), so these check that action.
@submit("teams.list", "member", team_page.view)
async def add_member(uow: UnitOfWork, data: FormData, request: Request) -> str:
    team = await teams.get_team(uow, request.path_params["team_id"])  # another organisation's: 404 first
    await authorize(uow, "teams.members", team_id=team.id)  # then: may they? then: whom?
    if not text(data, "user"):
        raise Invalid("user: choose the person to add", field="user")
    await teams.add_member(uow, str(team.id), text(data, "user"), text(data, "role") or "member")
    user = await users.get_user(uow, text(data, "user"))
    return back(_team_path(request), f"{user.name or user.email} is now a {text(data, 'role') or 'member'} of the team.")


@submit("teams.list", "members", team_page.view)
async def remove_member(uow: UnitOfWork, data: FormData, request: Request) -> str:
    user = await teams.remove_member(uow, request.path_params["team_id"], text(data, "user"))
    return back(_team_path(request), f"{user.name or user.email} left the team.")


def team_routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/admin/teams", teams_page), ("POST", "/admin/teams", create_team),
        ("GET", "/admin/teams/{team_id}", team_page), ("POST", "/admin/teams/{team_id}/rename", rename_team),
        ("POST", "/admin/teams/{team_id}/archive", archive_team),
        ("POST", "/admin/teams/{team_id}/members", add_member),
        ("POST", "/admin/teams/{team_id}/members/remove", remove_member),
    ]
