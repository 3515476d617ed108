"""Browser sessions: the same tokens as the API, in cookies.

* `fm_access`  the access token; HttpOnly, SameSite=Lax, path /.
* `fm_refresh` the refresh token; HttpOnly, SameSite=Strict, path /api/auth (sent nowhere else).
* `fm_csrf`    a random value readable by the page's JavaScript (not HttpOnly). Every
  state-changing request authenticated by cookie must echo it in `X-CSRF-Token` (or a form field
  `csrf_token`): a cross-site page can make the browser send cookies but cannot read this one
  (double-submit). Requests with an `Authorization` header are not cookie-authenticated and need
  no CSRF token.
Cookies are Secure in production mode (FORTIUM_COOKIE_SECURE overrides).
"""
from __future__ import annotations

import hmac
import secrets

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ..accounts import TokenPair
from ..config import Mode, Settings
from ..errors import Forbidden

ACCESS, REFRESH, CSRF = "fm_access", "fm_refresh", "fm_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _secure(settings: Settings) -> bool:
    return settings.cookie_secure if settings.cookie_secure is not None else settings.mode is Mode.production


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def set_session(response: Response, pair: TokenPair, settings: Settings, csrf: str | None = None) -> str:
    secure = _secure(settings)
    csrf = csrf or new_csrf_token()
    # The access cookie lives as long as the refresh token: an expired access token in it is
    # answered with 401 and the page refreshes; the cookie itself must still be there to replace.
    response.set_cookie(ACCESS, pair.access_token, httponly=True, secure=secure, samesite="lax", path="/",
                        max_age=settings.refresh_token_days * 86400)
    response.set_cookie(REFRESH, pair.refresh_token, httponly=True, secure=secure, samesite="strict",
                        path="/api/auth", max_age=settings.refresh_token_days * 86400)
    response.set_cookie(CSRF, csrf, httponly=False, secure=secure, samesite="lax", path="/")
    return csrf


def clear_session(response: Response) -> None:
    for name, path in ((ACCESS, "/"), (REFRESH, "/api/auth"), (CSRF, "/")):
        response.delete_cookie(name, path=path)


def access_cookie(connection: HTTPConnection) -> str | None:
    return connection.cookies.get(ACCESS)


async def check_csrf(request: Request) -> None:
    """For cookie-authenticated, state-changing requests: the double-submit check."""
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    expected = request.cookies.get(CSRF)
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        given = (await request.form()).get("csrf_token")
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise Forbidden("missing or wrong CSRF token: send the fm_csrf cookie's value in X-CSRF-Token")
