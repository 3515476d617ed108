"""Signed-in pages: who is asking, where to send people who are not signed in, errors as pages.

Pages use the browser session of web/session_cookies.py. An access cookie that no longer works
(expired, usually) is renewed without the person noticing: the page redirects to
`/api/auth/renew?next=…`, the one path the refresh cookie is sent to, which rotates the tokens
and comes back (web/pages/auth_pages.py). Nobody signed in → `/login?next=…`.
Domain errors become an HTML page for browsers and stay the JSON envelope for API clients.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import DomainError, Unauthorized
from ...permissions import authorize
from ...store.uow import UnitOfWork
from ..auth import scope_principal
from ..session_cookies import ACCESS, CSRF, _secure, new_csrf_token
from .templating import render

HOME = "/overview"
PageHandler = Callable[[Request, UnitOfWork], Awaitable[Response]]


def safe_next(value: str | None, default: str = HOME) -> str:
    """A same-origin path to return to after signing in, else `default` (no open redirects:
    `//evil`, `/\\evil`, schemes, hosts, control characters are refused; so are the sign-in and
    API paths, which would loop or show JSON)."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(char) < 32 or char in "\\\x7f" for char in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/api/")):
        return default
    return value


def current_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = quote(current_path(request), safe="")
    if request.cookies.get(ACCESS):  # a session that stopped working: renew it with the refresh cookie
        return RedirectResponse(f"/api/auth/renew?next={target}", status_code=303)
    return RedirectResponse(f"/login?next={target}", status_code=303)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, error: DomainError) -> Response:
    titles = {403: "Not allowed", 404: "Not found", 429: "Slow down"}
    return render(request, "error.html", status=error.status, title=titles.get(error.status, "Something went wrong"),
                  message=error.message)


def csrf_token(request: Request) -> str:
    """The double-submit token forms echo (web/session_cookies.py): the browser's, or a new one
    that `keep_csrf` then sets."""
    return request.cookies.get(CSRF) or new_csrf_token()


def keep_csrf(request: Request, response: Response, token: str) -> Response:
    if request.cookies.get(CSRF) != token:
        response.set_cookie(CSRF, token, httponly=False, secure=_secure(request.app.state.settings), samesite="lax",
                            path="/")
    return response


def page(action: str) -> Callable[[PageHandler], Callable[[Request], Awaitable[Response]]]:
    """A page that needs a signed-in principal allowed `action` (permissions.py). The handler
    runs in the principal's unit of work (tenant-bound: it can only see its organisation)."""

    def wrap(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            principal = scope_principal(request.scope)
            if principal is None:
                return sign_in_redirect(request)
            try:
                async with request.app.state.store.unit_of_work(principal) as uow:
                    await authorize(uow, action)
                    return await handler(request, uow)
            except Unauthorized:
                return sign_in_redirect(request)
            except DomainError as error:
                if wants_html(request):
                    return error_page(request, error)
                raise  # API clients get the JSON envelope (web/errors.py)

        return endpoint

    return wrap
