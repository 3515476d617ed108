"""The unit of work: one transaction bound to one principal — the tenancy choke point.

* PostgreSQL: at BEGIN the organisation is written into the transaction
  (`set_config('app.current_organization_id', …, true)`), and row-level security does the rest.
* Both databases: every ORM SELECT/UPDATE/DELETE gets `organization_id = <principal's org>` added
  for each tenant entity (including aliases and joins); new rows are stamped with it; an insert or
  object naming another organisation is refused; textual SQL is refused unless the caller marks it
  as tenant-checked. There is no session without a principal, so no query can forget the filter.
The unit of work commits when its block ends without error and rolls back otherwise; services
never commit.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import TextClause

from ..errors import ConfigError
from ..principal import Principal
from .models import Organization, TenantScoped

class TenancyViolation(RuntimeError):
    """A programming error: code tried to act outside the bound organisation."""


class TenantSession(Session):
    @property
    def principal(self) -> Principal:
        principal = self.info.get("principal")
        if principal is None:
            raise TenancyViolation("session used without a principal")
        return principal


@event.listens_for(TenantSession, "after_begin")
def _bind_transaction(session: TenantSession, _transaction, connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    principal = session.principal
    org = "" if principal.organization_id is None else str(principal.organization_id)
    connection.execute(
        text("SELECT set_config('app.current_organization_id', :org, true), set_config('app.system_scope', :sys, true)"),
        {"org": org, "sys": "on" if principal.is_system else "off"},
    )


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_statement(state: ORMExecuteState) -> None:
    principal = state.session.principal
    if principal.is_system:
        return
    if isinstance(state.statement, TextClause):
        raise TenancyViolation("textual SQL in a tenant unit of work must filter by organisation itself")
    org = principal.organization_id
    if state.is_insert:
        _stamp_insert_parameters(state, org)
    elif state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.organization_id == org, include_aliases=True),
            with_loader_criteria(Organization, lambda cls: cls.id == org, include_aliases=True),
        )


def _stamp_insert_parameters(state: ORMExecuteState, org) -> None:
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    if not rows:
        raise TenancyViolation("tenant inserts must pass their rows as parameters")
    for row in rows:
        if row.setdefault("organization_id", org) != org:
            raise TenancyViolation("insert names another organisation")


@event.listens_for(TenantSession, "before_flush")
def _stamp_new_objects(session: TenantSession, _context, _instances) -> None:
    principal = session.principal
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.organization_id is None:
            obj.organization_id = principal.organization_id
        if not principal.is_system and obj.organization_id != principal.organization_id:
            raise TenancyViolation(f"{type(obj).__name__} belongs to another organisation")
        if obj.organization_id is None:
            raise TenancyViolation(f"{type(obj).__name__} has no organisation")


@dataclass
class UnitOfWork:
    session: AsyncSession
    principal: Principal

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name


def _sessionmaker(engine: AsyncEngine):
    return async_sessionmaker(engine, class_=AsyncSession, sync_session_class=TenantSession, expire_on_commit=False)


class Store:
    """Owns the engine and hands out units of work. Built by the app/CLI factories, never global.

    `admin_engine` (PostgreSQL: the schema owner's connection, FORTIUM_ADMIN_DATABASE_URL) serves
    the system units of work of operator commands. The application role has no way across
    organisations (revision 0010), so on PostgreSQL a system unit of work without it is refused
    rather than silently seeing nothing; the server has none, and its cross-organisation lookups
    are the narrow functions of store/system_lookups.py and store/key_lookup.py."""

    def __init__(self, engine: AsyncEngine, admin_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.admin_engine = admin_engine
        self._sessions = _sessionmaker(engine)
        self._admin_sessions = _sessionmaker(admin_engine) if admin_engine is not None else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self, principal: Principal) -> AsyncIterator[UnitOfWork]:
        if principal is None:
            raise TenancyViolation("a unit of work needs a principal")
        async with self._sessionmaker_for(principal)() as session:
            session.sync_session.info["principal"] = principal
            async with session.begin():
                yield UnitOfWork(session, principal)

    @property
    def works_across_organizations(self) -> bool:
        """Whether system units of work are possible (always on SQLite)."""
        return self.dialect != "postgresql" or self._admin_sessions is not None

    def _sessionmaker_for(self, principal: Principal):
        if not principal.is_system or self.dialect != "postgresql":
            return self._sessions
        if self._admin_sessions is None:
            raise ConfigError(
                "work across organisations needs the schema owner's connection on PostgreSQL: "
                "set FORTIUM_ADMIN_DATABASE_URL")
        return self._admin_sessions

    async def ping(self) -> None:
        """Raise if the database does not answer (health checks)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.admin_engine is not None:
            await self.admin_engine.dispose()
