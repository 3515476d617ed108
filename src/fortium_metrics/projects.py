"""Projects (usually one per repository); archived rather than deleted, so their history stays."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from . import audit, validation
from .errors import Conflict
from .lookup import find_one
from .pagination import PageQuery, paginate
from .permissions import authorize
from .store.models import Project
from .store.uow import UnitOfWork
from .teams import get_team

STATUSES = ("active", "archived")


async def get_project(uow: UnitOfWork, ref: str | uuid.UUID) -> Project:
    await authorize(uow, "projects.list")
    return await find_one(uow, Project, ref, Project.name, "project")


async def search_projects(uow: UnitOfWork, page: PageQuery, status: str | None = None,
                          team: str | None = None) -> tuple[list[Project], int]:
    await authorize(uow, "projects.list")
    query = select(Project).order_by(Project.name)
    if status:
        query = query.where(Project.status == validation.one_of(status, STATUSES, "status"))
    if team:
        query = query.where(Project.team_id == (await get_team(uow, team)).id)
    return await paginate(uow, query, page)


async def create_project(uow: UnitOfWork, name: str, team: str | None = None, repository_url: str | None = None) -> Project:
    await authorize(uow, "projects.write")
    name = validation.non_empty(name, "name")
    if await uow.session.scalar(select(Project.id).where(Project.name == name)):
        raise Conflict(f"name: a project named {name!r} already exists in this organisation", field="name")
    project = Project(name=name, team_id=(await get_team(uow, team)).id if team else None,
                      repository_url=repository_url, status="active")
    uow.session.add(project)
    await uow.session.flush()
    audit.record(uow, "project.create", target=name)
    return project


async def update_project(uow: UnitOfWork, ref: str, *, name: str | None = None, team: str | None = None,
                         repository_url: str | None = None, status: str | None = None) -> Project:
    await authorize(uow, "projects.write")
    project = await get_project(uow, ref)
    if name is not None and name != project.name:
        name = validation.non_empty(name, "name")
        if await uow.session.scalar(select(Project.id).where(Project.name == name)):
            raise Conflict(f"name: a project named {name!r} already exists in this organisation", field="name")
        project.name = name
    if team is not None:
        project.team_id = (await get_team(uow, team)).id if team else None
    if repository_url is not None:
        project.repository_url = repository_url or None
    if status is not None:
        project.status = validation.one_of(status, STATUSES, "status")
    await uow.session.flush()
    audit.record(uow, "project.update", target=project.name)
    return project
