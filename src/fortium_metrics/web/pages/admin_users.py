"""People: the list (search, role, team, active, pages), creating someone with a password,
inviting by e-mail, and one person's page (role, deactivate/reactivate, new password). Every
change goes through users.py, accounts.py and invitations.py, as the REST API and the CLI do."""
from __future__ import annotations

from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ... import accounts, invitations, teams, users
from ...errors import Invalid
from ...pagination import PageQuery, page_number
from ...principal import ROLES
from ...store.uow import UnitOfWork
from ..addresses import server_url
from .admin_common import FormState, admin_page, back, render_admin, submit, text

PAGE_SIZE = 25
ACTIVE = {"": None, "1": True, "0": False}


@admin_page("users")
async def users_page(request: Request, uow: UnitOfWork, form: FormState | None = None, **extra) -> Response:
    params = request.query_params
    chosen = {name: params.get(name, "").strip()[:100] for name in ("q", "role", "team", "active")}
    if chosen["role"] not in ROLES:
        chosen["role"] = ""
    query = PageQuery(page=page_number(params.get("page")), limit=PAGE_SIZE)
    all_teams = await teams.list_teams(uow)
    if chosen["team"] not in {t.slug for t in all_teams}:
        chosen["team"] = ""
    rows, total = await users.search_users(uow, query, chosen["role"] or None, ACTIVE.get(chosen["active"]),
                                           chosen["q"] or None, chosen["team"] or None)
    activity = await users.activity(uow, [u.id for u in rows])
    filtered = urlencode({k: v for k, v in chosen.items() if v})
    return await render_admin(
        request, uow, "users", "admin/users.html", form=form, title="People",
        intro="Who may sign in, with which role. Deactivated people keep their data; their sign-ins and keys stop.",
        people=rows, activity=activity, total=total, page=query.page, limit=query.limit, chosen=chosen,
        teams=all_teams, roles=ROLES, pending=await invitations.pending_invitations(uow),
        pager_base=f"/admin/users?{filtered}&" if filtered else "/admin/users?", **extra)


@submit("users.create", "create", users_page.view)
async def create_user(uow: UnitOfWork, data: FormData, request: Request) -> str:
    password = str(data.get("password") or "")
    if not password.strip():
        raise Invalid("password: choose a first password (at least 12 characters), or invite them by e-mail instead",
                      field="password")
    user = await users.create_user(uow, text(data, "email"), text(data, "name"), text(data, "role") or "developer")
    await accounts.set_password(uow, str(user.id), password)
    return back("/admin/users", f"{user.email} can now sign in with the password you chose.")


@submit("users.create", "invite", users_page.view)
async def invite_user(uow: UnitOfWork, data: FormData, request: Request) -> str | Response:
    sent = await invitations.invite_and_send(uow, request.app.state.settings, server_url(request), text(data, "email"),
                                             text(data, "name"), text(data, "role") or "developer")
    if not sent.emailed:  # no SMTP server: the administrator passes the link on
        return await users_page.view(request, uow, invited_link=sent.link, invited_email=sent.new.invitation.email)
    return back("/admin/users", f"Invitation sent to {sent.new.invitation.email}.")


@submit("users.create", "withdraw", users_page.view)
async def withdraw_invitation(uow: UnitOfWork, data: FormData, request: Request) -> str:
    withdrawn = await invitations.withdraw(uow, request.path_params["invitation_id"])
    return back("/admin/users", f"The invitation of {withdrawn.email} was withdrawn.")


# -- one person -----------------------------------------------------------------------------------
@admin_page("users")
async def user_page(request: Request, uow: UnitOfWork, form: FormState | None = None) -> Response:
    user = await users.show_user(uow, request.path_params["user_id"])
    return await render_admin(request, uow, "users", "admin/user.html", form=form, title=user.name or user.email,
                              intro=user.email, person=user,
                              activity=(await users.activity(uow, [user.id]))[user.id],
                              memberships=await teams.teams_of(uow, str(user.id)),
                              me=user.id == uow.principal.user_id)


def _user_path(request: Request) -> str:
    return f"/admin/users/{request.path_params['user_id']}"


@submit("users.update", "role", user_page.view)
async def change_role(uow: UnitOfWork, data: FormData, request: Request) -> str:
    user = await users.update_user(uow, request.path_params["user_id"], role=text(data, "role"))
    return back(_user_path(request), f"{user.email} is now {user.role}.")


@submit("users.update", "active", user_page.view)
async def change_active(uow: UnitOfWork, data: FormData, request: Request) -> str:
    active = text(data, "active") == "1"
    user = await users.update_user(uow, request.path_params["user_id"], active=active)
    return back(_user_path(request), f"{user.email} was {'reactivated' if active else 'deactivated'}.")


@submit("users.password", "password", user_page.view)
async def reset_password(uow: UnitOfWork, data: FormData, request: Request) -> str:
    user = await accounts.set_password(uow, request.path_params["user_id"], str(data.get("password") or ""))
    return back(_user_path(request), f"{user.email} has a new password; their sign-in sessions were ended.")


def user_routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/admin/users", users_page), ("POST", "/admin/users", create_user),
        ("POST", "/admin/users/invite", invite_user),
        ("POST", "/admin/invitations/{invitation_id}/withdraw", withdraw_invitation),
        ("GET", "/admin/users/{user_id}", user_page), ("POST", "/admin/users/{user_id}/role", change_role),
        ("POST", "/admin/users/{user_id}/active", change_active),
        ("POST", "/admin/users/{user_id}/password", reset_password),
    ]
