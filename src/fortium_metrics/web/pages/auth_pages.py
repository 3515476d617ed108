"""Signing in and out in the browser: the sign-in page, the silent session renewal, sign-out.

They use the account service and the cookie session of the REST sign-in (accounts.py,
web/session_cookies.py): HttpOnly access and refresh cookies, and the double-submit CSRF token,
which the sign-in form echoes too (no signing someone into an attacker's account). Renewal and
sign-out live under /api/auth because the refresh cookie is sent only there.
"""
from __future__ import annotations

from urllib.parse import quote

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from ..auth import scope_principal
from ..auth_api import LoginBody
from ..openapi import Operation, documented
from ..session_cookies import REFRESH, check_csrf, clear_session, set_session
from ..sso_api import sso_service
from .session import csrf_token, keep_csrf, safe_next
from .templating import render

WRONG = "Wrong e-mail or password."
FIELD_NAMES = {"email": "e-mail address", "password": "password", "org": "organisation"}


async def _sso_url(request: Request, slug: str) -> str | None:
    """The SSO start URL when that organisation has SSO configured. An unknown organisation and
    one without SSO look the same: the page reveals no organisation names."""
    try:
        await sso_service(request)._config_for_slug(slug)
    except NotFound:
        return None
    return f"/api/auth/sso/{quote(slug.strip().lower(), safe='')}/login"


async def _form(request: Request, status: int = 200, *, email: str = "", org: str = "", next_path: str = "",
                errors: dict[str, str] | None = None, form_error: str | None = None, show_org: bool = False,
                notice: str | None = None) -> Response:
    sso_org = request.query_params.get("sso", "").strip()[:64]
    sso_url = await _sso_url(request, sso_org) if sso_org else None
    csrf = csrf_token(request)
    response = render(request, "login.html", status=status, email=email, org=org, next=safe_next(next_path),
                      errors=errors or {}, form_error=form_error, show_org=show_org or bool(org), notice=notice,
                      csrf=csrf, sso_org=sso_org, sso_url=sso_url)
    return keep_csrf(request, response, csrf)


async def login_page(request: Request) -> Response:
    """GET /login[?next=/path][&sso=org-slug]: the sign-in form (signed in already: go on)."""
    next_path = safe_next(request.query_params.get("next"))
    if scope_principal(request.scope) is not None:
        return RedirectResponse(next_path, status_code=303)
    notice = "You are signed out." if request.query_params.get("signed_out") else None
    return await _form(request, next_path=next_path, notice=notice)


def _field_errors(email: str, password: str, org: str) -> dict[str, str]:
    errors = {}
    if not email:
        errors["email"] = "Enter your e-mail address."
    if not password:
        errors["password"] = "Enter your password."
    if errors:
        return errors
    try:
        LoginBody(email=email, password=password, org=org or None)
    except ValidationError as error:
        for detail in error.errors():
            name = str(detail["loc"][0])
            errors[name] = f"This {FIELD_NAMES.get(name, name)} is not valid: {detail['msg'].lower()}."
    return errors


async def login_submit(request: Request) -> Response:
    """POST /login (form): sign in, set the session cookies, go to `next`."""
    form = await request.form()
    email, org = (str(form.get(name) or "").strip() for name in ("email", "org"))
    password = str(form.get("password") or "")  # taken as typed: spaces may be part of it
    next_path = safe_next(str(form.get("next") or ""))
    if scope_principal(request.scope) is not None:
        return RedirectResponse(next_path, status_code=303)
    again = {"email": email, "org": org, "next_path": next_path}
    try:
        await check_csrf(request)
    except Forbidden:
        return await _form(request, 403, form_error="This sign-in form had expired. Please sign in again.", **again)
    errors = _field_errors(email, password, org)
    if errors:
        return await _form(request, 422, errors=errors, **again)
    client = request.client.host if request.client else "unknown"
    try:
        pair = await request.app.state.ctx.accounts.login(email, password, client, org or None)
    except Unauthorized:
        return await _form(request, 401, errors={"password": WRONG}, **again)
    except RateLimited as error:
        return await _form(request, 429, form_error=f"Too many failed sign-ins: {error.message.split('; ', 1)[-1]}.",
                           **again)
    except Invalid as error:
        return await _form(request, 422, show_org=True, errors={
            "org": "This e-mail has accounts in several organisations: enter the organisation's short name."
            if error.field == "org" else error.message}, **again)
    response = RedirectResponse(next_path, status_code=303)
    set_session(response, pair, request.app.state.settings)
    return response


def _to_sign_in(next_path: str, **query: str) -> Response:
    extra = "".join(f"&{key}={value}" for key, value in query.items())
    response = RedirectResponse(f"/login?next={quote(next_path, safe='')}{extra}", status_code=302)
    clear_session(response)
    return response


@documented(Operation(
    summary="Browser: renew an expired page session with the refresh cookie, then go back", tag="auth", public=True,
    description="Pages redirect here when their access cookie stopped working; the fm_refresh cookie (sent only to "
                "/api/auth) is rotated, the cookies set again, and the browser sent back to `next` (a same-origin "
                "path). Without a working refresh cookie: the sign-in page.",
    responses={302: ("Back to `next` with a renewed session, or to /login.", None)}))
async def renew(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    token = request.cookies.get(REFRESH)
    if not token:
        return _to_sign_in(next_path)
    try:
        pair = await request.app.state.ctx.accounts.refresh(token)
    except Unauthorized:
        return _to_sign_in(next_path)
    response = RedirectResponse(next_path, status_code=302)
    set_session(response, pair, request.app.state.settings)
    response.headers["cache-control"] = "no-store"
    return response


@documented(Operation(
    summary="Browser: sign out (form post with the CSRF token) and go to the sign-in page", tag="auth", public=True,
    description="Revokes this sign-in's refresh and access tokens (like POST /api/auth/logout), clears the cookies "
                "and redirects to /login. The form must carry `csrf_token` (the fm_csrf cookie's value).",
    responses={302: ("Signed out: to /login.", None), 403: ("Missing or wrong CSRF token.", None)}))
async def sign_out(request: Request) -> Response:
    try:
        await check_csrf(request)
    except Forbidden as error:
        return render(request, "error.html", status=403, title="Not signed out",
                      message=f"{error.message}. Reload the page and try again.")
    token = request.cookies.get(REFRESH)
    if token:
        await request.app.state.ctx.accounts.logout(token)
    return _to_sign_in("/overview", signed_out="1")
