"""Helpers shared by the command-line tests (tests/test_cli*.py). They are synchronous: each CLI
command runs its own event loop, so the tests' own database work runs in `in_app`'s."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import operator_store
from fortium_metrics.cli import main
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.principal import Principal


@pytest.fixture
def cli(backend, tmp_path, monkeypatch) -> Callable[..., Result]:
    """`cli(*args, input=None, **env)` runs a command against the test's database."""
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORTIUM_DATABASE_URL", backend.url)
    monkeypatch.setenv("FORTIUM_ADMIN_DATABASE_URL", backend.owner_url)

    def run(*args: str, input: str | None = None, **env: str) -> Result:
        return CliRunner(env=env or None).invoke(main, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def app_of(backend, tmp_path) -> Callable[[Callable[[AppContext], Awaitable[Any]]], Any]:
    """`app_of(work)` runs `await work(app_context)` on the test's database and returns its result."""

    def run(work):
        async def main_():
            app = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "data"),
                                   operator_store(backend))
            try:
                return await work(app)
            finally:
                await app.close()

        return asyncio.run(main_())

    return run


def unique_slug(prefix: str = "acme") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def as_operator(app: AppContext, action):
    async with app.store.unit_of_work(Principal.system("test")) as uow:
        return await action(uow)


async def in_org(app: AppContext, slug: str, action):
    from fortium_metrics import orgs

    org = await as_operator(app, lambda uow: orgs.get_by_slug(uow, slug))
    async with app.store.unit_of_work(Principal.org_admin(org.id, label="test")) as uow:
        return await action(uow)
