"""Organisation settings, single sign-on and projects: orgs.py, sso.py and projects.py do the
work (and the checks); these pages draw the forms and show the errors next to the fields."""
from __future__ import annotations

from zoneinfo import available_timezones

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ... import orgs, projects, sso, teams
from ...errors import NotFound
from ...pagination import MAX_LIMIT, PageQuery
from ...sso_oidc import OidcClient, ProviderUnavailable
from ...store.uow import UnitOfWork
from ..sso_api import sso_service
from .admin_common import FormState, admin_page, back, render_admin, submit, text, whole_number

TIMEZONES = sorted(available_timezones())


@admin_page("settings")
async def settings_page(request: Request, uow: UnitOfWork, form: FormState | None = None) -> Response:
    org = await orgs.current(uow)
    return await render_admin(request, uow, "settings", "admin/settings.html", form=form, title="Settings",
                              intro="How this organisation's data is kept and shown. Every change is in the audit log.",
                              org=org, options=org.settings or {}, timezones=TIMEZONES)


@submit("org.update", "settings", settings_page.view)
async def save_settings(uow: UnitOfWork, data: FormData, request: Request) -> str:
    await orgs.update_settings(
        uow, name=text(data, "name"), timezone=text(data, "timezone") or None,
        data_retention_days=whole_number(data, "data_retention_days", 1, 3650),
        min_group_size=whole_number(data, "min_group_size", 1, 1000),
        unknown_users=text(data, "unknown_users") or None)
    return back("/admin/settings", "Settings saved.")


# -- single sign-on -----------------------------------------------------------------------------------
async def _current_sso(uow: UnitOfWork):
    try:
        return await sso.get_sso(uow)
    except NotFound:
        return None


@admin_page("sso")
async def sso_page(request: Request, uow: UnitOfWork, form: FormState | None = None, test=None) -> Response:
    settings = request.app.state.settings
    org = await orgs.current(uow)
    return await render_admin(request, uow, "sso", "admin/sso.html", form=form, title="Single sign-on",
                              intro="People of this organisation sign in with your OpenID Connect provider.",
                              config=await _current_sso(uow), redirect_uri=sso.redirect_uri(settings),
                              login_url=sso.login_url(settings, org.slug), test=test)


@submit("sso.configure", "sso", sso_page.view)
async def save_sso(uow: UnitOfWork, data: FormData, request: Request) -> str:
    secret = str(data.get("client_secret") or "")
    current = await _current_sso(uow)
    if not secret and current is not None:  # left empty: keep the stored one
        secret = sso.client_secret(request.app.state.settings, current)
    await sso.configure_sso(uow, request.app.state.settings, text(data, "issuer"), text(data, "client_id"), secret,
                            text(data, "scopes") or sso.DEFAULT_SCOPES, text(data, "jit") == "1",
                            text(data, "default_role") or "developer")
    return back("/admin/sso", "Single sign-on saved. Test the connection, then try signing in.")


@submit("sso.configure", "test", sso_page.view)
async def test_sso(uow: UnitOfWork, data: FormData, request: Request) -> Response:
    """Fetch the provider's discovery document: the issuer answers, and names itself correctly."""
    issuer = text(data, "issuer") or getattr(await _current_sso(uow), "issuer", "")
    try:
        # A client of its own: the sign-in's client caches discovery documents, a test must fetch.
        meta = await OidcClient(transport=sso_service(request).oidc.transport).metadata(sso._issuer(issuer))
        outcome = {"ok": True, "issuer": meta.issuer, "authorization_endpoint": meta.authorization_endpoint,
                   "token_endpoint": meta.token_endpoint}
    except ProviderUnavailable as error:
        outcome = {"ok": False, "message": error.message}
    return await sso_page.view(request, uow, test=outcome)


@submit("sso.configure", "remove", sso_page.view)
async def remove_sso(uow: UnitOfWork, data: FormData, request: Request) -> str:
    await sso.remove_sso(uow)
    return back("/admin/sso", "Single sign-on is off; people sign in with passwords.")


# -- projects --------------------------------------------------------------------------------------------
@admin_page("projects")
async def projects_page(request: Request, uow: UnitOfWork, form: FormState | None = None) -> Response:
    rows, total = await projects.search_projects(uow, PageQuery(limit=MAX_LIMIT))
    all_teams = await teams.list_teams(uow)
    return await render_admin(request, uow, "projects", "admin/projects.html", form=form, title="Projects",
                              intro="Usually one per repository; archived projects keep their history.",
                              projects=rows, total=total, teams=all_teams, team_names={t.id: t.name for t in all_teams})


@submit("projects.write", "create", projects_page.view)
async def create_project(uow: UnitOfWork, data: FormData, request: Request) -> str:
    project = await projects.create_project(uow, text(data, "name"), text(data, "team") or None,
                                            text(data, "repository_url") or None)
    return back("/admin/projects", f"Project {project.name} was created.")


@submit("projects.write", "project", projects_page.view)
async def update_project(uow: UnitOfWork, data: FormData, request: Request) -> str:
    project = await projects.update_project(uow, request.path_params["project_id"], team=text(data, "team"),
                                            status=text(data, "status") or None)
    return back("/admin/projects", f"Project {project.name} was saved.")


def org_routes() -> list[tuple[str, str, object]]:
    return [
        ("GET", "/admin/settings", settings_page), ("POST", "/admin/settings", save_settings),
        ("GET", "/admin/sso", sso_page), ("POST", "/admin/sso", save_sso), ("POST", "/admin/sso/test", test_sso),
        ("POST", "/admin/sso/remove", remove_sso),
        ("GET", "/admin/projects", projects_page), ("POST", "/admin/projects", create_project),
        ("POST", "/admin/projects/{project_id}", update_project),
    ]
