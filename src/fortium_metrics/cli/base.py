"""The root group and what every command shares: settings, a store for the command's duration,
units of work in one organisation, and domain errors turned into one line and an exit code."""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from .. import migrate_if_sqlite, orgs
from ..config import Settings, load_settings
from ..errors import ConfigError, DomainError
from ..context import operator_store
from ..principal import Principal
from ..store.uow import Store, UnitOfWork

T = TypeVar("T")
# soft_wrap: messages are never broken into lines (an id must stay whole, whatever the width).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class FriendlyGroup(click.Group):
    """Turns domain and configuration errors into one clear line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            err.print(f"[red]error:[/] {error.message}", highlight=False)
            sys.exit(2)
        except DomainError as error:
            err.print(f"[red]error:[/] {error.message}", highlight=False)
            sys.exit(1)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    return load_settings(**ctx.obj, **overrides)


async def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    store = operator_store(settings)
    try:
        return await work(store)
    finally:
        await store.dispose()


def _run(ctx: click.Context, work: Callable[[Store], Awaitable[T]]) -> T:
    settings = _settings(ctx)

    async def main() -> T:
        await asyncio.to_thread(migrate_if_sqlite, settings)
        return await with_store(settings, work)

    return asyncio.run(main())


async def _in_org(store: Store, org_slug: str, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    org = await orgs.id_for_slug(store, org_slug)
    async with store.unit_of_work(Principal.org_admin(org, label="cli")) as uow:
        return await action(uow)


def run_in_org(ctx: click.Context, org_slug: str, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """The usual command: one unit of work in the organisation `--org` names."""
    return _run(ctx, lambda store: _in_org(store, org_slug, action))


def run_as_operator(ctx: click.Context, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """One unit of work across organisations (on PostgreSQL on the schema owner's connection,
    FORTIUM_ADMIN_DATABASE_URL: the application role cannot read across organisations)."""

    async def work(store: Store) -> T:
        async with store.unit_of_work(Principal.system("cli")) as uow:
            return await action(uow)

    return _run(ctx, work)


org_option = click.option("--org", "org_slug", required=True, help="Slug of the organisation to act in.")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON (ids as strings, the same keys as the REST API) instead of a table.")


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar=None, help="Override FORTIUM_DATABASE_URL for this command.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Override FORTIUM_DATA_DIR.")
@click.version_option(package_name="fortium-metrics", help="Print the version and exit.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, data_dir: str | None) -> None:
    """fortium-metrics: how your teams use AI coding agents.

    With no configuration everything runs on an embedded SQLite file in FORTIUM_DATA_DIR
    (~/.local/share/fortium-metrics). Set FORTIUM_DATABASE_URL for PostgreSQL.
    Run `fortium-metrics config show` to see every setting.
    """
    ctx.obj = {"database_url": database_url, "data_dir": data_dir}
