"""Fixtures: databases built by running the migrations, on SQLite and (when configured) PostgreSQL.

PostgreSQL tests need FORTIUM_TEST_POSTGRES_URL (a superuser/owner URL, e.g.
postgresql://postgres@127.0.0.1:5432/test). They create a throw-away database per test session,
migrate it as the owner, and connect the service as the non-owner application role, so RLS is
really in force. Without the variable they skip with that reason; with
FORTIUM_TEST_REQUIRE_POSTGRES=1 (CI) a missing server is an error instead.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from fortium_metrics import orgs, users
from fortium_metrics.accounts import ROLE_SCOPES
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate
from fortium_metrics.store.engine import create_engine
from fortium_metrics.store.uow import Store

APP_ROLE = "fortium_app"
PG_ENV = "FORTIUM_TEST_POSTGRES_URL"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def postgres_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("FORTIUM_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_ENV} is required in CI but not set")
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV}=postgresql://USER@HOST:PORT/DB to run")
    return url


def _plain(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates and drops throw-away databases on the configured server."""

    def __init__(self, admin_url: str) -> None:
        self.admin = make_url(admin_url)
        self.created: list[str] = []

    def _exec(self, sql: str) -> None:
        with psycopg.connect(_plain(self.admin), autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> str:
        name = f"fortium_test_{uuid.uuid4().hex[:10]}"
        self._exec(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _plain(self.admin.set(database=name))

    def app_url(self, owner_url: str) -> str:
        return _plain(make_url(owner_url).set(username=APP_ROLE, password=None))

    def drop_all(self) -> None:
        for name in self.created:
            self._exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PostgresDatabases(postgres_admin_url())
    try:
        psycopg.connect(_plain(dbs.admin), connect_timeout=5).close()
    except psycopg.OperationalError as error:
        if os.environ.get("FORTIUM_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL at {PG_ENV} is unreachable: {error}")
        pytest.skip(f"PostgreSQL at {PG_ENV} is unreachable: {error}")
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_migrated(pg_databases) -> tuple[str, str]:
    """(owner URL, app-role URL) of one database migrated to head, shared by the session.
    Tests stay independent by creating their own organisations."""
    owner = pg_databases.create()
    migrate.upgrade(owner, "head", APP_ROLE)
    return owner, pg_databases.app_url(owner)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "fortium.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@dataclass
class Backend:
    name: str
    url: str  # what the service connects with
    owner_url: str  # what the migrations run with


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "fortium.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Backend("sqlite", f"sqlite:///{path}", f"sqlite:///{path}")
    owner, app = request.getfixturevalue("pg_migrated")
    return Backend("postgres", app, owner)


def operator_store(backend: Backend) -> Store:
    """The service's store, with the schema owner's connection for system units of work (the
    fixtures create organisations, as the CLI does with FORTIUM_ADMIN_DATABASE_URL)."""
    admin = create_engine(backend.owner_url) if backend.name == "postgres" else None
    return Store(create_engine(backend.url), admin)


@pytest.fixture
async def store(backend):
    store = operator_store(backend)
    yield store
    await store.dispose()


@dataclass
class People:
    org_a: uuid.UUID
    org_b: uuid.UUID
    alice: Principal  # org A admin
    bob: Principal  # org A developer
    charlie: Principal  # org B developer
    slug_a: str = ""
    slug_b: str = ""


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def people(store) -> People:
    async with store.unit_of_work(Principal.system("test")) as uow:
        a = await orgs.create_organization(uow, "Org A", unique_slug("org-a"))
        b = await orgs.create_organization(uow, "Org B", unique_slug("org-b"))
    found = {}
    for org, email, role in ((a, "alice@a.test", "admin"), (a, "bob@a.test", "developer"), (b, "charlie@b.test", "developer")):
        async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
            user = await users.create_user(uow, email, email.split("@")[0].title(), role)
        found[email] = Principal(org.id, user.id, role, ROLE_SCOPES[role], "user", email)  # as if signed in
    return People(a.id, b.id, found["alice@a.test"], found["bob@a.test"], found["charlie@b.test"], a.slug, b.slug)


@pytest.fixture
async def keys(store, people) -> dict[str, str]:
    """API key secrets (scopes ingest+read) bound to alice, bob and charlie; `alice_admin` adds the admin scope."""
    from fortium_metrics import apikeys

    made = {}
    for who, principal in (("alice", people.alice), ("bob", people.bob), ("charlie", people.charlie)):
        async with store.unit_of_work(Principal.org_admin(principal.organization_id)) as uow:  # keys are an admin's to make
            made[who] = (await apikeys.create_api_key(uow, who, ["ingest", "read"], principal.label)).secret
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        made["alice_admin"] = (await apikeys.create_api_key(uow, "alice admin", ["ingest", "read", "admin"], "alice@a.test")).secret
    return made


@pytest.fixture
async def app(store, backend, tmp_path):
    """A fresh app on the test's store, its lifespan running in the test's event loop."""
    from fortium_metrics.app import create_app
    from fortium_metrics.config import load_settings

    # The server's store has no owner connection: everything a request or a job does must work
    # as the application role alone (its cross-organisation lookups are narrow functions).
    served = Store(store.engine)
    app = create_app(load_settings(database_url=backend.url, data_dir=tmp_path / "data"), store=served)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(app):
    """An httpx client calling the app in-process (same event loop as the store)."""
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


@dataclass
class LiveServer:
    url: str
    app: object
    loop: object = None  # the server's event loop (asyncio.run_coroutine_threadsafe into the app)


@contextlib.contextmanager
def running_server(backend, data_dir, **settings) -> Iterator[LiveServer]:
    """The real app under uvicorn on 127.0.0.1 (own thread, own event loop, own engine), with
    these settings; for clients that need a socket: SDK exporters, MCP transports, WebSockets."""
    import socket
    import threading
    import time

    import uvicorn

    from fortium_metrics.app import create_app
    from fortium_metrics.config import load_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(load_settings(database_url=backend.url, data_dir=data_dir, port=port, **settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, server.servers[0].get_loop())
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def live_server(backend, tmp_path):
    """The real app under uvicorn (running_server) with the default settings."""
    with running_server(backend, tmp_path / "live") as server:
        yield server


@pytest.fixture
async def sink(store, people, backend, tmp_path):
    """An import sink writing into org A of the test's store (as its operator)."""
    from fortium_metrics.config import load_settings
    from fortium_metrics.context import AppContext
    from fortium_metrics.importers.runner import LocalSink

    ctx = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "d"), store=store)
    yield LocalSink(ctx, Principal.org_admin(people.org_a))
    await ctx.close(dispose_store=False)
