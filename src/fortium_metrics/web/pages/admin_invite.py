"""Accepting an invitation: `/invite/{token}` (no sign-in: the link is the proof). The person
chooses their password (the password policy of passwords.py, through invitations.accept), and
is signed in straight away, landing on "Connect Claude Code"."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import invitations
from ...errors import DomainError, Forbidden, NotFound
from ..session_cookies import check_csrf, set_session
from ..sso_api import accounts
from .admin_common import sentence
from .session import csrf_token, error_page, keep_csrf
from .templating import render


async def _form(request: Request, pending: invitations.Pending, status: int = 200, errors: dict | None = None,
                name: str | None = None) -> Response:
    csrf = csrf_token(request)
    return keep_csrf(request, render(request, "admin/accept.html", status=status, pending=pending, errors=errors or {},
                                     name=pending.name if name is None else name, csrf=csrf), csrf)


async def accept_page(request: Request) -> Response:
    try:
        pending = await invitations.look_up(request.app.state.store, request.path_params["token"])
    except NotFound as error:
        return error_page(request, error)
    return await _form(request, pending)


async def accept_submit(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        pending = await invitations.look_up(request.app.state.store, token)
    except NotFound as error:
        return error_page(request, error)
    form = await request.form()
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    try:
        await check_csrf(request)
    except Forbidden:
        return await _form(request, pending, 403, {"form": "This form had expired. Please try again."}, name)
    if password != str(form.get("confirm") or ""):
        return await _form(request, pending, 422, {"confirm": "The two passwords differ."}, name)
    try:
        user = await invitations.accept(request.app.state.store, token, password, name)
    except NotFound as error:
        return error_page(request, error)
    except DomainError as error:
        return await _form(request, pending, error.status, {error.field or "form": sentence(error)}, name)
    response = RedirectResponse("/connect?notice=Welcome!+Your+account+is+ready.", status_code=303)
    set_session(response, await accounts(request).sign_in_user(user, "invitation"), request.app.state.settings)
    return response


def invite_routes() -> list[tuple[str, str, object]]:
    return [("GET", "/invite/{token}", accept_page), ("POST", "/invite/{token}", accept_submit)]
