"""Management REST API: users, teams, projects, API keys, organisation settings, audit log.

Adapters only: authenticate, parse (field-level errors), run one service in the caller's unit of
work; the services check permissions (permissions.py) and raise NotFound/Conflict/Forbidden,
which become the error envelope (404/409/403). Lists are paginated (`page`, `limit` ≤ 100).
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from .. import accounts, apikeys, audit, orgs, projects, teams, users, validation
from ..pagination import PageQuery
from ..store.uow import UnitOfWork
from .auth import request_principal
from .bodies import parse_body, parse_query
from .errors import ErrorEnvelope
from .openapi import Operation, documented
from .reads import Instant

Role = Literal["admin", "manager", "developer"]
# Names are stripped, then must keep a character: the schema says so too, so a client (or the
# fuzzer in tests/test_rest_fuzz.py) reading it never sends a "valid" whitespace-only name.
# Whitespace is Python's (str.strip, and re's \s in validation.py), spelled out: JSON Schema
# readers (ECMA regex) and pydantic (Rust regex) each mean something else by \s.
_SPACE = validation.SPACE_CLASS
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=f"[^{_SPACE}]")]
Email = Annotated[str, Field(max_length=320, pattern=f"^[{_SPACE}]*[^@{_SPACE}]+@([^@{_SPACE}]+\\.[^@{_SPACE}]+|localhost)[{_SPACE}]*$")]
# 12 characters or more once stripped (the ends are stripped at sign-in too).
Password = Annotated[str, Field(max_length=1024, pattern=f"^[{_SPACE}]*[^{_SPACE}][\\s\\S]{{10,}}[^{_SPACE}][{_SPACE}]*$",
                                description="At least 12 characters, leading and trailing spaces not counted.")]
Slug = Annotated[str, Field(pattern=f"^[{_SPACE}]*[a-zA-Z0-9][a-zA-Z0-9-]{{0,62}}[a-zA-Z0-9][{_SPACE}]*$",
                            description="2-64 letters, digits and inner hyphens (kept lowercase).")]
ERRORS = {403: ("Your role or the key's scopes do not allow this.", ErrorEnvelope),
        404: ("Not found in your organisation.", ErrorEnvelope), 422: ("Invalid input; `field` names it.", ErrorEnvelope)}
_LAST_ADMIN = {409: ("The organisation's last active administrator cannot be demoted or deactivated.", ErrorEnvelope)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Body(Strict):
    """Request bodies take JSON's own types: `"active": 0` is no `false` (it was taken as one)."""

    model_config = ConfigDict(strict=True)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    active: bool
    external_id: str | None
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    page: int
    limit: int
    total: int


class UsersQuery(PageQuery, Strict):
    role: Role | None = None
    active: bool | None = None
    q: str | None = Field(None, max_length=100, description="Part of the e-mail or name.")


class UserCreate(Body):
    email: Email
    name: str = Field("", max_length=200)
    role: Role = "developer"
    password: Password | None = Field(None, description="Optional; SSO users need none.")


class UserUpdate(Body):
    name: Name | None = None
    role: Role | None = None
    active: bool | None = Field(None, description="false deactivates (data kept; sign-in and keys stop).")
    password: Password | None = None


class TeamOut(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    description: str


class TeamCreate(Body):
    name: Name
    slug: Slug | None = Field(None, description="Default: from the name.")
    description: str = Field("", max_length=2000)


class TeamUpdate(Body):
    name: Name | None = None
    description: str | None = Field(None, max_length=2000)
    archived: bool | None = Field(None, description="true archives the team (members and history kept); false restores it.")


class TeamDetail(TeamOut):
    archived_at: datetime | None


class MemberIn(Body):
    user: str = Field(description="User e-mail or id.", max_length=320)
    role: Literal["lead", "member"] = "member"


class MemberOut(BaseModel):
    email: str
    role: str


class ProjectOut(BaseModel):
    id: uuid.UUID
    name: str
    team_id: uuid.UUID | None
    repository_url: str | None
    status: str


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    page: int
    limit: int
    total: int


class ProjectsQuery(PageQuery, Strict):
    status: Literal["active", "archived"] | None = None
    team: str | None = None


class ProjectIn(Body):
    name: Name
    team: str | None = None
    repository_url: str | None = Field(None, max_length=500)


class ProjectUpdate(Body):
    name: Name | None = None
    team: str | None = None
    repository_url: str | None = Field(None, max_length=500)
    status: Literal["active", "archived"] | None = None


class KeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    user_id: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    secret: str = Field(description="Shown once; only its hash is stored.")


class KeyIn(Body):
    name: Name
    scopes: list[Literal["ingest", "read", "admin"]] = Field(default_factory=lambda: ["ingest", "read"])
    user: str | None = Field(None, description="Bind the key to this user (their role then applies).")


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    data_retention_days: int
    settings: dict[str, Any]


class OrgUpdate(Body):
    name: Name | None = None
    data_retention_days: int | None = Field(None, ge=1, le=3650)
    unknown_users: Literal["create", "reject"] | None = None
    timezone: str | None = Field(None, max_length=64, description="IANA time zone of days, weeks and months in analytics.")
    min_group_size: int | None = Field(None, ge=1, le=1000, description="Fewest people in an anonymised team aggregate.")
    label_dimensions: list[str] | None = Field(None, max_length=20, description="Source labels offered as analytics "
                                               "dimensions, e.g. department, cost_center.")


class AuditOut(BaseModel):
    occurred_at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditOut]
    page: int
    limit: int
    total: int


class AuditQuery(PageQuery, Strict):
    action: str | None = Field(None, max_length=64, description="An action, or a family with a trailing `*` (`user.*`).")
    actor: str | None = Field(None, max_length=200, description="Part of the actor (e-mail, key prefix, `cli`).")
    target: str | None = Field(None, max_length=200, description="Part of the target.")
    since: Instant | None = Field(None, description="From this instant (inclusive), ISO 8601.")
    until: Instant | None = Field(None, description="Before this instant, ISO 8601.")


# One request, one unit of work: the service runs as the caller; its answer (a model or JSON) is the body.
async def act(request: Request, action: Callable[[UnitOfWork], Awaitable[Any]], status: int = 200) -> JSONResponse:
    principal = await request_principal(request)
    async with request.app.state.ctx.store.unit_of_work(principal) as uow:
        result = await action(uow)
    body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return JSONResponse(body, status_code=status)


def _user(u) -> UserOut:
    return UserOut.model_validate(u, from_attributes=True)


def _page(model, rows, total, query, convert) -> BaseModel:
    return model(items=[convert(r) for r in rows], page=query.page, limit=query.limit, total=total)


# -- users -------------------------------------------------------------------------------------
@documented(Operation(summary="List users", tag="admin", query=UsersQuery, responses={200: ("A page of users.", UserPage), **ERRORS}))
async def list_users(request: Request) -> JSONResponse:
    query = parse_query(request, UsersQuery)

    async def action(uow):
        rows, total = await users.search_users(uow, query, query.role, query.active, query.q)
        return _page(UserPage, rows, total, query, _user)
    return await act(request, action)


@documented(Operation(summary="Create a user", tag="admin", body=UserCreate,
                      responses={201: ("Created.", UserOut), 409: ("E-mail already used.", ErrorEnvelope), **ERRORS},
                      examples={"developer": {"email": "dev@example.com", "name": "Dev", "role": "developer"}}))
async def create_user(request: Request) -> JSONResponse:
    body = await parse_body(request, UserCreate)

    async def action(uow):
        user = await users.create_user(uow, body.email, body.name, body.role)
        if body.password:
            await accounts.set_password(uow, str(user.id), body.password)
        return _user(user)
    return await act(request, action, 201)


@documented(Operation(summary="Change a user (name, role, active, password)", tag="admin", body=UserUpdate,
                      responses={200: ("Updated.", UserOut), **ERRORS, **_LAST_ADMIN},
                      examples={"promote": {"role": "manager"}}))
async def update_user(request: Request) -> JSONResponse:
    body = await parse_body(request, UserUpdate)
    ref = request.path_params["user_id"]

    async def action(uow):
        # The password first, through its own permission, so a refusal names what it is about.
        user = await accounts.set_password(uow, ref, body.password) if body.password else None
        if user is None or body.model_fields_set - {"password"}:
            user = await users.update_user(uow, ref, name=body.name, role=body.role, active=body.active)
        return _user(user)
    return await act(request, action)


@documented(Operation(summary="Deactivate a user (soft delete: data kept)", tag="admin",
                      responses={200: ("Deactivated.", UserOut), **ERRORS, **_LAST_ADMIN}))
async def deactivate_user(request: Request) -> JSONResponse:
    ref = request.path_params["user_id"]
    return await act(request, lambda uow: _deactivate(uow, ref))


async def _deactivate(uow, ref) -> UserOut:
    return _user(await users.update_user(uow, ref, active=False))


# -- teams -------------------------------------------------------------------------------------
@documented(Operation(summary="List teams", tag="admin", responses={200: ("Teams.", list[TeamOut]), **ERRORS}))
async def list_teams(request: Request) -> JSONResponse:
    async def action(uow):
        return [TeamOut.model_validate(t, from_attributes=True).model_dump(mode="json") for t in await teams.list_teams(uow)]
    return await act(request, action)


@documented(Operation(summary="Create a team", tag="admin", body=TeamCreate,
                      responses={201: ("Created.", TeamOut), 409: ("Slug already used.", ErrorEnvelope), **ERRORS},
                      examples={"platform": {"name": "Platform"}}))
async def create_team(request: Request) -> JSONResponse:
    body = await parse_body(request, TeamCreate)

    async def action(uow):
        return TeamOut.model_validate(await teams.create_team(uow, body.name, body.slug, body.description), from_attributes=True)
    return await act(request, action, 201)


@documented(Operation(summary="A team's members", tag="admin", responses={200: ("Members.", list[MemberOut]), **ERRORS}))
async def list_members(request: Request) -> JSONResponse:
    ref = request.path_params["team_id"]

    async def action(uow):
        return [MemberOut(email=e, role=r).model_dump() for e, r in await teams.list_members(uow, ref)]
    return await act(request, action)


@documented(Operation(summary="Add a member to a team (or change their team role)", tag="admin", body=MemberIn,
                      responses={201: ("Added.", MemberOut), **ERRORS}, examples={"lead": {"user": "dev@example.com", "role": "lead"}}))
async def add_member(request: Request) -> JSONResponse:
    body = await parse_body(request, MemberIn)
    ref = request.path_params["team_id"]

    async def action(uow):
        await teams.add_member(uow, ref, body.user, body.role)
        return MemberOut(email=(await users.get_user(uow, body.user)).email, role=body.role)
    return await act(request, action, 201)


@documented(Operation(summary="Rename, describe, archive or restore a team (audited)", tag="admin", body=TeamUpdate,
                      responses={200: ("Updated.", TeamDetail), **ERRORS}, examples={"archive": {"archived": True}}))
async def update_team(request: Request) -> JSONResponse:
    body = await parse_body(request, TeamUpdate)
    ref = request.path_params["team_id"]

    async def action(uow):
        return TeamDetail.model_validate(await teams.update_team(uow, ref, **body.model_dump(exclude_unset=True)),
                                         from_attributes=True)
    return await act(request, action)


@documented(Operation(summary="Remove a member from a team (their account and data stay)", tag="admin",
                      responses={200: ("Removed.", MemberOut), **ERRORS}))
async def remove_member(request: Request) -> JSONResponse:
    team_ref, user_ref = request.path_params["team_id"], request.path_params["user_id"]

    async def action(uow):
        return MemberOut(email=(await teams.remove_member(uow, team_ref, user_ref)).email, role="removed")
    return await act(request, action)


# -- projects ----------------------------------------------------------------------------------
def _project(p) -> ProjectOut:
    return ProjectOut.model_validate(p, from_attributes=True)


@documented(Operation(summary="List projects", tag="admin", query=ProjectsQuery, responses={200: ("A page.", ProjectPage), **ERRORS}))
async def list_projects(request: Request) -> JSONResponse:
    query = parse_query(request, ProjectsQuery)

    async def action(uow):
        rows, total = await projects.search_projects(uow, query, query.status, query.team)
        return _page(ProjectPage, rows, total, query, _project)
    return await act(request, action)


@documented(Operation(summary="Create a project", tag="admin", body=ProjectIn,
                      responses={201: ("Created.", ProjectOut), 409: ("Name already used.", ErrorEnvelope), **ERRORS},
                      examples={"repo": {"name": "web-app", "repository_url": "https://git.example.com/web-app"}}))
async def create_project(request: Request) -> JSONResponse:
    body = await parse_body(request, ProjectIn)
    return await act(request, lambda uow: _created_project(uow, body), 201)


async def _created_project(uow, body: ProjectIn) -> ProjectOut:
    return _project(await projects.create_project(uow, body.name, body.team, body.repository_url))


@documented(Operation(summary="One project", tag="admin", responses={200: ("The project.", ProjectOut), **ERRORS}))
async def get_project(request: Request) -> JSONResponse:
    ref = request.path_params["project_id"]

    async def action(uow):
        return _project(await projects.get_project(uow, ref))
    return await act(request, action)


@documented(Operation(summary="Change a project", tag="admin", body=ProjectUpdate,
                      responses={200: ("Updated.", ProjectOut), 409: ("Name already used.", ErrorEnvelope), **ERRORS},
                      examples={"archive": {"status": "archived"}}))
async def update_project(request: Request) -> JSONResponse:
    body = await parse_body(request, ProjectUpdate)
    ref = request.path_params["project_id"]

    async def action(uow):
        return _project(await projects.update_project(uow, ref, **body.model_dump(exclude_unset=True)))
    return await act(request, action)


@documented(Operation(summary="Archive a project (history kept)", tag="admin", responses={200: ("Archived.", ProjectOut), **ERRORS}))
async def archive_project(request: Request) -> JSONResponse:
    ref = request.path_params["project_id"]

    async def action(uow):
        return _project(await projects.update_project(uow, ref, status="archived"))
    return await act(request, action)


# -- API keys ----------------------------------------------------------------------------------
def _key(k) -> KeyOut:
    return KeyOut.model_validate(k, from_attributes=True)


@documented(Operation(summary="List API keys (never their secrets)", tag="admin", responses={200: ("Keys.", list[KeyOut]), **ERRORS}))
async def list_keys(request: Request) -> JSONResponse:
    async def action(uow):
        return [_key(k).model_dump(mode="json") for k in await apikeys.list_api_keys(uow)]
    return await act(request, action)


@documented(Operation(summary="Create an API key (its secret is in this response only)", tag="admin", body=KeyIn,
                      responses={201: ("Created.", NewKeyOut), **ERRORS},
                      examples={"ingest": {"name": "ci uploader", "scopes": ["ingest"]}}))
async def create_key(request: Request) -> JSONResponse:
    body = await parse_body(request, KeyIn)

    async def action(uow):
        new = await apikeys.create_api_key(uow, body.name, list(body.scopes), body.user)
        return NewKeyOut(**_key(new.key).model_dump(), secret=new.secret)
    return await act(request, action, 201)


@documented(Operation(summary="Revoke an API key", tag="admin", responses={200: ("Revoked.", KeyOut), **ERRORS}))
async def revoke_key(request: Request) -> JSONResponse:
    ref = request.path_params["key_id"]

    async def action(uow):
        return _key(await apikeys.revoke_api_key(uow, ref))
    return await act(request, action)


# -- organisation and audit ----------------------------------------------------------------------
@documented(Operation(summary="The caller's organisation and its settings", tag="admin", responses={200: ("Settings.", OrgOut), **ERRORS}))
async def get_org(request: Request) -> JSONResponse:
    async def action(uow):
        return OrgOut.model_validate(await orgs.current(uow), from_attributes=True)
    return await act(request, action)


@documented(Operation(summary="Change organisation settings (audited)", tag="admin", body=OrgUpdate,
                      responses={200: ("Updated.", OrgOut), **ERRORS}, examples={"retention": {"data_retention_days": 180}}))
async def update_org(request: Request) -> JSONResponse:
    body = await parse_body(request, OrgUpdate)

    async def action(uow):
        return OrgOut.model_validate(await orgs.update_settings(uow, **body.model_dump(exclude_unset=True)), from_attributes=True)
    return await act(request, action)


@documented(Operation(summary="The audit log (read-only)", tag="admin", query=AuditQuery, responses={200: ("A page, newest first.", AuditPage), **ERRORS}))
async def list_audit(request: Request) -> JSONResponse:
    query = parse_query(request, AuditQuery)

    async def action(uow):
        rows, total = await audit.search(uow, query, query.action, query.actor, query.target, query.since, query.until)
        return _page(AuditPage, rows, total, query, lambda a: AuditOut.model_validate(a, from_attributes=True))
    return await act(request, action)


def admin_routes() -> list[BaseRoute]:
    return [
        Route("/api/users", list_users, methods=["GET"]), Route("/api/users", create_user, methods=["POST"]),
        Route("/api/users/{user_id}", update_user, methods=["PUT"]),
        Route("/api/users/{user_id}", deactivate_user, methods=["DELETE"]),
        Route("/api/teams", list_teams, methods=["GET"]), Route("/api/teams", create_team, methods=["POST"]),
        Route("/api/teams/{team_id}/members", list_members, methods=["GET"]),
        Route("/api/teams/{team_id}/members", add_member, methods=["POST"]),
        Route("/api/teams/{team_id}", update_team, methods=["PUT"]),
        Route("/api/teams/{team_id}/members/{user_id}", remove_member, methods=["DELETE"]),
        Route("/api/projects", list_projects, methods=["GET"]), Route("/api/projects", create_project, methods=["POST"]),
        Route("/api/projects/{project_id}", get_project, methods=["GET"]),
        Route("/api/projects/{project_id}", update_project, methods=["PUT"]),
        Route("/api/projects/{project_id}", archive_project, methods=["DELETE"]),
        Route("/api/keys", list_keys, methods=["GET"]), Route("/api/keys", create_key, methods=["POST"]),
        Route("/api/keys/{key_id}", revoke_key, methods=["DELETE"]),
        Route("/api/org", get_org, methods=["GET"]), Route("/api/org", update_org, methods=["PUT"]),
        Route("/api/audit", list_audit, methods=["GET"]),
    ]
