"""The command line. Each command parses its input, opens a unit of work and calls one service."""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from . import apikeys, maintenance, migrate_if_sqlite, orgs, teams, users
from .config import Settings, describe, load_settings
from .errors import ConfigError, DomainError
from .principal import ROLES, SCOPES, Principal
from .store import migrate
from .store.engine import create_engine
from .store.uow import Store, UnitOfWork

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


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


def _run(ctx: click.Context, work: Callable[[Store], Awaitable[T]]) -> T:
    settings = _settings(ctx)

    async def main() -> T:
        await asyncio.to_thread(migrate_if_sqlite, settings)
        store = Store(create_engine(settings.effective_database_url))
        try:
            return await work(store)
        finally:
            await store.dispose()

    return asyncio.run(main())


async def _in_org(store: Store, org_slug: str, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async with store.unit_of_work(Principal.system("cli")) as uow:
        org = await orgs.get_by_slug(uow, org_slug)
    async with store.unit_of_work(Principal.org_admin(org.id, label="cli")) as uow:
        return await action(uow)


def _table(*columns: str) -> Table:
    table = Table(*columns, header_style="bold")
    return table


org_option = click.option("--org", "org_slug", required=True, help="Slug of the organisation to act in.")


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar=None, help="Override FORTIUM_DATABASE_URL for this command.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Override FORTIUM_DATA_DIR.")
@click.version_option(package_name="fortium-metrics")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, data_dir: str | None) -> None:
    """fortium-metrics: how your teams use AI coding agents.

    With no configuration everything runs on an embedded SQLite file in FORTIUM_DATA_DIR
    (~/.local/share/fortium-metrics). Set FORTIUM_DATABASE_URL for PostgreSQL.
    Run `fortium-metrics config show` to see every setting.
    """
    ctx.obj = {"database_url": database_url, "data_dir": data_dir}


# -- serve ------------------------------------------------------------------------------------
@main.command()
@click.option("--host", help="Bind address (FORTIUM_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (FORTIUM_PORT, default 8765).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the service: dashboard, REST API, MCP (Streamable HTTP and SSE), OTLP and hooks."""
    import uvicorn

    from .app import create_app
    from .runtime import tune_gc_for_serving

    settings = _settings(ctx, host=host, port=port)
    migrate_if_sqlite(settings)
    if not settings.is_sqlite and migrate.current_revision(settings.effective_database_url) != migrate.head_revision():
        raise ConfigError("the database schema is not up to date: run `fortium-metrics db upgrade` first")
    out.print(f"fortium-metrics on http://{settings.host}:{settings.port}/ ({'SQLite' if settings.is_sqlite else 'PostgreSQL'})")
    app = create_app(settings)
    tune_gc_for_serving()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


# -- db ---------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Schema migrations (run with FORTIUM_ADMIN_DATABASE_URL, the schema owner, on PostgreSQL)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    settings = _settings(ctx)
    migrate.upgrade(settings.effective_admin_database_url, revision, settings.app_db_role)
    out.print(f"schema at {migrate.current_revision(settings.effective_admin_database_url)}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Downgrade the schema to REVISION (`base` removes everything)."""
    settings = _settings(ctx)
    migrate.downgrade(settings.effective_admin_database_url, revision, settings.app_db_role)
    out.print(f"schema at {migrate.current_revision(settings.effective_admin_database_url) or 'base'}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the schema revision of the database and the newest one known."""
    settings = _settings(ctx)
    current = migrate.current_revision(settings.effective_admin_database_url)
    out.print(f"current: {current or 'base (empty)'}  head: {migrate.head_revision()}")


# -- org ----------------------------------------------------------------------------------------
@main.group()
def org() -> None:
    """Organisations (tenants)."""


@org.command("create")
@click.argument("name")
@click.option("--slug", help="Short unique name used in URLs and --org (default: from NAME).")
@click.option("--retention-days", type=click.IntRange(min=1), default=365, show_default=True,
              help="How long metric events are kept.")
@click.pass_context
def org_create(ctx: click.Context, name: str, slug: str | None, retention_days: int) -> None:
    """Create an organisation called NAME."""

    async def work(store: Store) -> None:
        async with store.unit_of_work(Principal.system("cli")) as uow:
            created = await orgs.create_organization(uow, name, slug, retention_days)
        out.print(f"created organisation {created.slug} ({created.id})")

    _run(ctx, work)


@org.command("list")
@click.pass_context
def org_list(ctx: click.Context) -> None:
    """List all organisations."""

    async def work(store: Store) -> None:
        async with store.unit_of_work(Principal.system("cli")) as uow:
            rows = await orgs.list_organizations(uow)
        table = _table("slug", "name", "retention (days)", "id")
        for o in rows:
            table.add_row(o.slug, o.name, str(o.data_retention_days), str(o.id))
        out.print(table)

    _run(ctx, work)


# -- user ---------------------------------------------------------------------------------------
@main.group()
def user() -> None:
    """People of an organisation."""


@user.command("create")
@org_option
@click.option("--email", required=True, help="E-mail address, unique in the organisation.")
@click.option("--name", default="", help="Display name.")
@click.option("--role", type=click.Choice(ROLES), default="developer", show_default=True)
@click.pass_context
def user_create(ctx: click.Context, org_slug: str, email: str, name: str, role: str) -> None:
    """Create a user."""

    async def work(store: Store) -> None:
        created = await _in_org(store, org_slug, lambda uow: users.create_user(uow, email, name, role))
        out.print(f"created user {created.email} ({created.role}, {created.id})")

    _run(ctx, work)


@user.command("list")
@org_option
@click.pass_context
def user_list(ctx: click.Context, org_slug: str) -> None:
    """List the users of an organisation."""

    async def work(store: Store) -> None:
        rows = await _in_org(store, org_slug, users.list_users)
        table = _table("email", "name", "role", "active", "id")
        for u in rows:
            table.add_row(u.email, u.name, u.role, "yes" if u.active else "no", str(u.id))
        out.print(table)

    _run(ctx, work)


# -- team ---------------------------------------------------------------------------------------
@main.group()
def team() -> None:
    """Teams and memberships."""


@team.command("create")
@org_option
@click.argument("name")
@click.option("--slug", help="Short name, unique in the organisation (default: from NAME).")
@click.pass_context
def team_create(ctx: click.Context, org_slug: str, name: str, slug: str | None) -> None:
    """Create a team called NAME."""

    async def work(store: Store) -> None:
        created = await _in_org(store, org_slug, lambda uow: teams.create_team(uow, name, slug))
        out.print(f"created team {created.slug} ({created.id})")

    _run(ctx, work)


@team.command("add-member")
@org_option
@click.argument("team_ref", metavar="TEAM")
@click.argument("user_ref", metavar="USER")
@click.option("--role", type=click.Choice(teams.TEAM_ROLES), default="member", show_default=True)
@click.pass_context
def team_add_member(ctx: click.Context, org_slug: str, team_ref: str, user_ref: str, role: str) -> None:
    """Add USER (e-mail or id) to TEAM (slug or id), or change their team role."""

    async def work(store: Store) -> None:
        await _in_org(store, org_slug, lambda uow: teams.add_member(uow, team_ref, user_ref, role))
        out.print(f"{user_ref} is now {role} of {team_ref}")

    _run(ctx, work)


# -- apikey -------------------------------------------------------------------------------------
@main.group()
def apikey() -> None:
    """API keys for Claude Code, hooks and scripts (the secret is shown once)."""


@apikey.command("create")
@org_option
@click.option("--name", required=True, help="What the key is for, e.g. 'alice laptop'.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="Repeatable. Default: ingest and read.")
@click.option("--user", "user_ref", help="Act as this user (e-mail or id); their role applies.")
@click.pass_context
def apikey_create(ctx: click.Context, org_slug: str, name: str, scopes: tuple[str, ...], user_ref: str | None) -> None:
    """Create an API key and print its secret once."""

    async def work(store: Store) -> None:
        new = await _in_org(store, org_slug, lambda uow: apikeys.create_api_key(uow, name, list(scopes), user_ref))
        err.print(f"created key {new.key.prefix} with scopes {', '.join(new.key.scopes)}; "
                  "store the secret now, it is not shown again:")
        click.echo(new.secret)

    _run(ctx, work)


@apikey.command("list")
@org_option
@click.pass_context
def apikey_list(ctx: click.Context, org_slug: str) -> None:
    """List an organisation's keys (prefixes only; secrets are never stored)."""

    async def work(store: Store) -> None:
        rows = await _in_org(store, org_slug, apikeys.list_api_keys)
        table = _table("prefix", "name", "scopes", "created", "last used", "revoked")
        for k in rows:
            table.add_row(k.prefix, k.name, ",".join(k.scopes), f"{k.created_at:%Y-%m-%d %H:%M}",
                          f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
                          f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-")
        out.print(table)

    _run(ctx, work)


@apikey.command("revoke")
@org_option
@click.argument("key_ref", metavar="KEY")
@click.pass_context
def apikey_revoke(ctx: click.Context, org_slug: str, key_ref: str) -> None:
    """Revoke KEY (its prefix or id). Requests with it are refused from now on."""

    async def work(store: Store) -> None:
        key = await _in_org(store, org_slug, lambda uow: apikeys.revoke_api_key(uow, key_ref))
        out.print(f"revoked key {key.prefix}")

    _run(ctx, work)


# -- jobs ---------------------------------------------------------------------------------------
@main.group()
def jobs() -> None:
    """Background jobs, runnable by hand (the scheduler in `serve` runs them too)."""


@jobs.command("run")
@click.argument("name", type=click.Choice(["partitions"]))
@click.option("--months-ahead", type=click.IntRange(1, 24), help="Default: FORTIUM_PARTITION_MONTHS_AHEAD.")
@click.pass_context
def jobs_run(ctx: click.Context, name: str, months_ahead: int | None) -> None:
    """Run job NAME now. `partitions`: create upcoming monthly partitions (PostgreSQL)."""
    months = months_ahead or _settings(ctx).partition_months_ahead

    async def work(store: Store) -> None:
        async with store.unit_of_work(Principal.system("jobs")) as uow:
            created = await maintenance.ensure_partitions(uow, months)
        out.print(f"partitions: {created} created")

    _run(ctx, work)


# -- config -------------------------------------------------------------------------------------
@main.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective configuration (secrets masked) and what each setting means."""
    for name, value, meaning in describe(_settings(ctx)):
        click.echo(f"{name}={value}")
        if meaning:
            click.echo(f"    # {meaning}")


def _register_subcommands() -> None:
    from .hook_cli import hook_command
    from .importers.cli import import_group

    from .sso_cli import sso_group
    from .demo import demo_command

    main.add_command(import_group)
    main.add_command(hook_command)
    main.add_command(sso_group)
    main.add_command(demo_command)


_register_subcommands()


# -- mcp ----------------------------------------------------------------------------------------
@main.group("mcp", invoke_without_command=True)
@click.option("--flush-interval", type=click.FloatRange(min=0.05), default=30.0, show_default=True,
              help="Forwarder mode: seconds between attempts to deliver queued events.")
@click.pass_context
def mcp_group(ctx: click.Context, flush_interval: float) -> None:
    """Run the MCP server on stdio (what Claude Code launches).

    Without FORTIUM_API_URL it records into the local database as the local user. With
    FORTIUM_API_URL and FORTIUM_API_KEY it forwards to that server, queueing events on disk
    (FORTIUM_DATA_DIR/spool) while the server is unreachable.
    """
    if ctx.invoked_subcommand is None:
        from .mcp.stdio import serve_stdio

        asyncio.run(serve_stdio(_settings(ctx), flush_interval))


@mcp_group.command("flush")
@click.pass_context
def mcp_flush(ctx: click.Context) -> None:
    """Forwarder mode: deliver the queued events now."""
    from .mcp.stdio import forwarder_for

    settings = _settings(ctx)
    if not settings.api_url:
        raise ConfigError("FORTIUM_API_URL: not set, so there is no server to deliver to")

    async def flush() -> tuple[bool, int]:
        forwarder = forwarder_for(settings)
        try:
            return await forwarder.flush(), forwarder.spool.pending()
        finally:
            await forwarder.aclose()

    delivered, pending = asyncio.run(flush())
    out.print("spool delivered" if delivered else f"server unreachable: {pending} batch(es) still queued")
    if not delivered:
        sys.exit(1)


if __name__ == "__main__":
    main()
