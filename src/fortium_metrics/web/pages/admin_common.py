"""What every administration page shares: the tabs (each shown to whom permissions.py allows),
rendering inside the page shell, and form posts.

A form post runs its service calls in a unit of work of its own. On success the browser is sent
back to the page (post/redirect/get) with a notice; on a domain error the transaction is rolled
back and the page is drawn again in a fresh unit of work, with what was typed and the error next
to the field the error envelope names (`DomainError.field`), with the error's HTTP status.
Forms carry the double-submit CSRF token like the sign-in form.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import DomainError, Forbidden, Invalid, Unauthorized
from ...permissions import authorize
from ...principal import Principal
from ...store.uow import UnitOfWork
from ..auth import scope_principal
from ..session_cookies import check_csrf
from .session import csrf_token, error_page, keep_csrf, page, sign_in_redirect, wants_html
from .shell import allowed, shell_context
from .templating import environment, render


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    path: str
    action: str  # permissions.ACTIONS: the tab shows (and its page opens) only for those allowed


TABS = (
    Tab("users", "People", "/admin/users", "users.create"),
    Tab("teams", "Teams", "/admin/teams", "teams.create"),
    Tab("projects", "Projects", "/admin/projects", "projects.write"),
    Tab("keys", "API keys", "/admin/keys", "apikeys.manage"),
    Tab("settings", "Settings", "/admin/settings", "org.update"),
    Tab("sso", "Single sign-on", "/admin/sso", "sso.configure"),
    Tab("audit", "Audit log", "/admin/audit", "audit.read"),
)
TAB = {tab.key: tab for tab in TABS}


@dataclass
class FormState:
    """The form that failed (several forms share a page), what was typed, the errors by field."""

    name: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 200

    def value(self, form: str, name: str, default: Any = "") -> Any:
        return self.values.get(name, default) if form == self.name else default

    def error(self, form: str, name: str) -> str | None:
        return self.errors.get(name) if form == self.name else None


def when(value: datetime | None, empty: str = "—") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else empty


environment().filters["when"] = when
environment().filters["pair"] = lambda value: (value, value)  # a (value, label) choice that shows its value


async def render_admin(request: Request, uow: UnitOfWork, current: str, template: str, *,
                       form: FormState | None = None, nav: str = "admin", **context) -> Response:
    """An administration page in the shell, without the dashboards' filter bar."""
    shell = await shell_context(request, uow, nav, None)
    tabs = [tab for tab in TABS if await allowed(uow, tab.action)] if nav == "admin" else []
    csrf = csrf_token(request)
    form = form or FormState()
    notice = request.query_params.get("notice", "")[:300] if form.status == 200 else ""
    response = render(request, template, status=form.status, csrf=csrf, tabs=tabs, tab=current, form=form,
                      notice=notice, **shell, **context)
    return keep_csrf(request, response, csrf)


View = Callable[..., Awaitable[Response]]  # (request, uow, form=FormState) -> the page
Action = Callable[[UnitOfWork, FormData, Request], Awaitable["str | Response"]]


def admin_page(tab: str, action: str | None = None) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    """GET: a page for those allowed the tab's action. The view also draws the page again after a
    failed post (see `submit`)."""

    def wrap(view: View) -> Callable[[Request], Awaitable[Response]]:
        @page(action or TAB[tab].action)
        @functools.wraps(view)
        async def endpoint(request: Request, uow: UnitOfWork) -> Response:
            return await view(request, uow)

        endpoint.view = view  # type: ignore[attr-defined]
        return endpoint

    return wrap


def submit(action: str, form_name: str, view: View) -> Callable[[Action], Callable[[Request], Awaitable[Response]]]:
    """POST: check the CSRF token, run the handler in its own unit of work (it returns where to go
    next, or a response to show at once), redraw `view` with the error on a domain error."""

    def wrap(handler: Action) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            principal = scope_principal(request.scope)
            if principal is None:
                return sign_in_redirect(request)
            try:
                await check_csrf(request)
            except Forbidden:
                return error_page(request, Forbidden("This form had expired (its security token did not match). "
                                                     "Go back, reload the page and try again."))
            data = await request.form()
            try:
                async with request.app.state.store.unit_of_work(principal) as uow:
                    await authorize(uow, action)
                    outcome = await handler(uow, data, request)
            except Unauthorized:
                return sign_in_redirect(request)
            except DomainError as error:
                if not wants_html(request):
                    raise  # API clients get the JSON envelope (web/errors.py), as from every page
                if error.status in (403, 404) and error.field is None:
                    return error_page(request, error)
                state = FormState(form_name, {k: str(v) for k, v in data.items() if "password" not in k and
                                              "secret" not in k and k != "csrf_token"},
                                  {error.field or "form": sentence(error)}, error.status)
                return await redraw(request, principal, view, state)
            return outcome if isinstance(outcome, Response) else RedirectResponse(outcome, status_code=303)

        return endpoint

    return wrap


async def redraw(request: Request, principal: Principal, view: View, state: FormState) -> Response:
    async with request.app.state.store.unit_of_work(principal) as uow:
        return await view(request, uow, form=state)


def sentence(error: DomainError) -> str:
    """The envelope's message without its leading `field: ` (the page shows it next to the field)."""
    message = error.message
    if error.field and message.startswith(f"{error.field}: "):
        message = message[len(error.field) + 2:]
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def back(path: str, notice: str) -> str:
    return f"{path}?{urlencode({'notice': notice})}"


def text(data: FormData, name: str) -> str:
    return str(data.get(name) or "").strip()


def whole_number(data: FormData, name: str, low: int, high: int) -> int | None:
    """An integer form field (empty: unchanged), or Invalid naming it."""
    value = text(data, name)
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name}: a whole number between {low} and {high} (got {value[:40]!r})", field=name) from None
    if not low <= number <= high:
        raise Invalid(f"{name}: between {low} and {high} (got {number})", field=name)
    return number
