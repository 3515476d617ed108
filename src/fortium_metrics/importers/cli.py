"""`fortium-metrics import legacy|transcripts|status`."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .. import imports, migrate_if_sqlite
from ..config import Settings, load_settings
from ..context import AppContext, operator_store
from ..local import ensure_local_principal
from ..orgs import id_for_slug
from ..principal import Principal
from .base import Parser
from .runner import ImportReport, LocalSink, RemoteSink, run_import

err = Console(stderr=True)


@click.group("import")
def import_group() -> None:
    """Import history: legacy local-metrics files and Claude Code transcripts.

    Into the local embedded store by default, into an organisation with --org, or uploaded to a
    server with --api-url/--api-key (FORTIUM_API_URL/FORTIUM_API_KEY). Safe to run twice
    (nothing is counted again) and to interrupt (the next run resumes).
    """


def _common(command):
    options = [
        click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path)),
        click.option("--org", "org_slug", help="Import into this organisation of the local/configured database."),
        click.option("--user", "user_ref", help="E-mail of the person the history belongs to (default: from the files, or the key's user)."),
        click.option("--api-url", help="Upload to this server instead (default FORTIUM_API_URL)."),
        click.option("--api-key", help="API key for --api-url (default FORTIUM_API_KEY)."),
        click.option("--dry-run", is_flag=True, help="Read and count everything; store nothing."),
        click.option("--json", "as_json", is_flag=True, help="Print the final report as JSON."),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--workers", type=click.IntRange(1, 64), default=None,
                     help="Processes storing the events into a database (default: one per core; one for a "
                          "small import). Uploads use one."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@import_group.command("legacy")
@_common
@click.pass_context
def import_legacy(ctx: click.Context, **options) -> None:
    """Import the old local metrics. With no PATH, scans ~/.agent-os/metrics, ~/.ai-mesh/metrics,
    ~/.ensemble/metrics, ~/.claude/metrics, backups and ./.agent-os/metrics/data."""
    from .legacy import LegacyParser

    _run(ctx, LegacyParser(), **options)


@import_group.command("transcripts")
@_common
@click.pass_context
def import_transcripts(ctx: click.Context, **options) -> None:
    """Import Claude Code transcripts (default: ~/.claude/projects). Each API request counts once;
    cost is estimated from the price table."""
    from .transcripts import TranscriptParser

    _run(ctx, TranscriptParser(), **options)


@import_group.command("status")
@click.option("--org", "org_slug", help="Organisation (default: the local one).")
@click.pass_context
def import_status(ctx: click.Context, org_slug: str | None) -> None:
    """Show what has been imported, file by file."""
    settings = load_settings(**(ctx.obj or {}))

    async def work(app: AppContext) -> None:
        principal = await _principal(app, org_slug)
        async with app.store.unit_of_work(principal) as uow:
            rows = await imports.list_status(uow)
        table = Table("importer", "status", "read", "imported", "duplicates", "rejected", "source")
        for r in rows:
            table.add_row(r.importer, r.status, str(r.records_read), str(r.imported), str(r.duplicates), str(r.rejected), r.source)
        Console().print(table)

    asyncio.run(_with_context(settings, work))


def _run(ctx: click.Context, parser: Parser, *, paths, org_slug, user_ref, api_url, api_key, dry_run, as_json, no_progress,
         workers) -> None:
    settings = load_settings(**(ctx.obj or {}))
    api_url = api_url or settings.api_url
    api_key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None)

    async def local(app: AppContext) -> ImportReport:
        principal = await _principal(app, org_slug)
        target = user_ref or (None if org_slug else principal.label)
        return await run_import(parser, list(paths), LocalSink(app, principal), user=target, dry_run=dry_run,
                                show_progress=not no_progress, workers=workers)

    async def remote() -> ImportReport:
        state = settings.data_dir / "import-state.json"
        sink = RemoteSink(api_url, api_key, state)
        try:
            return await run_import(parser, list(paths), sink, user=user_ref, dry_run=dry_run, show_progress=not no_progress,
                                    workers=1)
        finally:
            await sink.aclose()

    if api_url and not org_slug and not api_key:
        raise click.UsageError("--api-url needs --api-key (or FORTIUM_API_KEY)")
    try:
        report = asyncio.run(remote() if api_url and not org_slug else _with_context(settings, local))
    except KeyboardInterrupt:  # before reading began, or a second Ctrl-C
        err.print("[yellow]interrupted[/]: nothing more was stored; run the same command again to finish")
        ctx.exit(130)
    _print(report, as_json)
    if report.interrupted:
        err.print("[yellow]interrupted[/]: the report above is partial; run the same command again to finish")
        ctx.exit(130)


async def _principal(app: AppContext, org_slug: str | None) -> Principal:
    if not org_slug:
        return await ensure_local_principal(app.store)
    return Principal.org_admin(await id_for_slug(app.store, org_slug), label="import")


async def _with_context(settings: Settings, work):
    await asyncio.to_thread(migrate_if_sqlite, settings)
    app = AppContext.build(settings, operator_store(settings))  # the local organisation may need creating
    try:
        return await work(app)
    finally:
        await app.close()


def _print(report: ImportReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    title = f"import {report.importer}{' (dry run)' if report.dry_run else ''}{' (interrupted)' if report.interrupted else ''}"
    table = Table(title=title, show_header=False)
    for label, value in (("files", report.files), ("files skipped (already imported)", report.skipped_files),
                         ("files empty", len(report.empty_files)),
                         ("records read", report.records_read), ("records imported", report.records_imported),
                         ("records duplicated (copies)", report.records_duplicates),
                         ("records ignored (nothing to import)", report.records_ignored),
                         ("records rejected", report.records_rejected),
                         ("events imported", report.events_imported),
                         ("events already stored", report.events_duplicates),
                         ("events rejected", report.events_rejected), *sorted(report.counters.items())):
        table.add_row(label, f"{value:,}")
    Console().print(table)
    for folder in report.folders:
        err.print(f"data folder {folder}", highlight=False)
    for empty in report.empty_files:
        err.print(f"[yellow]empty file[/] {empty}: 0 bytes, nothing to import", highlight=False)
    for error in report.errors[:50]:
        where = f"{error.source}:{error.line}" if error.line else error.source
        err.print(f"[yellow]rejected[/] {where}: {error.reason}", highlight=False)
    if len(report.errors) > 50:
        err.print(f"... and {len(report.errors) - 50} more")
