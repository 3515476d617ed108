"""`serve`, `db`, `jobs`, `config` and `mcp`: running the service and looking after it."""
from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Awaitable, Callable

import click

from .. import accounts, maintenance, migrate_if_sqlite
from ..config import Settings, describe
from ..errors import ConfigError
from ..principal import Principal
from ..store import migrate
from ..store.uow import Store
from . import first_run
from .base import _run, _settings, main, out, with_store


# -- serve ------------------------------------------------------------------------------------
@main.command()
@click.option("--host", help="Bind address (FORTIUM_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (FORTIUM_PORT, default 8765).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the service: dashboard, REST API, MCP (Streamable HTTP and SSE), OTLP and hooks.

    While no administrator can sign in (a new store), it prints the commands that create one.
    """
    import uvicorn

    from ..app import create_app
    from ..runtime import tune_gc_for_serving

    settings = _settings(ctx, host=host, port=port)
    migrate_if_sqlite(settings)
    if not settings.is_sqlite and migrate.current_revision(settings.effective_database_url) != migrate.head_revision():
        raise ConfigError("the database schema is not up to date: run `fortium-metrics db upgrade` first")
    out.print(f"fortium-metrics on http://{settings.host}:{settings.port}/ ({'SQLite' if settings.is_sqlite else 'PostgreSQL'})")
    _print_first_steps(ctx, settings)
    from .. import logs

    logs.configure(settings.log_format, settings.log_level)
    app = create_app(settings)
    tune_gc_for_serving()
    # proxy_headers off: the app believes X-Forwarded-For only from FORTIUM_TRUSTED_PROXIES.
    # No permessage-deflate: live messages are a few hundred bytes, and a compressor per WebSocket
    # costs ~30 KiB and CPU on every send to every client (docs/benchmarks.md, bench_ws.py).
    # log_config=None: keep logs.configure's handler (JSON lines, secrets redacted).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, proxy_headers=False,
                ws_per_message_deflate=False, log_config=None)


def _print_first_steps(ctx: click.Context, settings: Settings) -> None:
    async def setup(store: Store) -> accounts.SignInSetup | None:
        if not store.works_across_organizations:  # PostgreSQL without the owner's URL: no hint
            return None
        async with store.unit_of_work(Principal.system("serve")) as uow:
            return await accounts.sign_in_setup(uow)

    cli = first_run.program(ctx.obj.get("data_dir"), ctx.obj.get("database_url") is not None)
    text = first_run.hint(asyncio.run(with_store(settings, setup)), cli, settings.effective_public_url)
    if text:
        out.print(text, soft_wrap=True, markup=False, highlight=False)


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


# -- jobs ---------------------------------------------------------------------------------------
async def _partitions(store: Store, settings: Settings, months_ahead: int | None) -> str:
    created = await maintenance.ensure_partitions(store, months_ahead or settings.partition_months_ahead)
    return f"partitions: {created} created"


async def _rollups(store: Store, settings: Settings, months_ahead: int | None) -> str:
    from ..analytics.rollups import rebuild

    done = await rebuild(store)
    return f"rollups: {len(done)} organisation(s) rebuilt, {sum(done.values())} events read"


# name -> (what it does, how to run it)
JOBS: dict[str, tuple[str, Callable[[Store, Settings, int | None], Awaitable[str]]]] = {
    "partitions": ("Create the monthly partitions of the time series from this month to --months-ahead "
                   "months ahead, moving rows the default partition holds for them (PostgreSQL; nothing "
                   "to do on SQLite). `serve` runs it daily; safe to run twice.", _partitions),
    "rollups": ("Rebuild the analytics rollups of every organisation whose rollups were built for another "
                "time zone or cube definition, or never (after an upgrade). `serve` runs it every minute; "
                "until then analytics reads raw events. `analytics rebuild --org` forces one.", _rollups),
}


def _jobs_help() -> str:
    listed = "\n".join(textwrap.fill(what, 76, initial_indent=f"  {name}: ", subsequent_indent="    ")
                       for name, (what, _) in JOBS.items())
    return f"Run the job JOB now, once.\n\n\b\nJobs:\n{listed}"  # \b: click keeps these lines as they are


@main.group()
def jobs() -> None:
    """Background jobs, runnable by hand (the scheduler in `serve` runs them too)."""


@jobs.command("run", help=_jobs_help())
@click.argument("name", metavar="JOB", type=click.Choice(list(JOBS)))
@click.option("--months-ahead", type=click.IntRange(1, 24),
              help="partitions: how many months ahead (default FORTIUM_PARTITION_MONTHS_AHEAD).")
@click.pass_context
def jobs_run(ctx: click.Context, name: str, months_ahead: int | None) -> None:
    settings = _settings(ctx)
    out.print(_run(ctx, lambda store: JOBS[name][1](store, settings, months_ahead)))


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
        from ..mcp.stdio import serve_stdio

        asyncio.run(serve_stdio(_settings(ctx), flush_interval))


@mcp_group.command("flush")
@click.pass_context
def mcp_flush(ctx: click.Context) -> None:
    """Forwarder mode: deliver the queued events now."""
    from ..mcp.stdio import forwarder_for

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
