"""`retention`, `backup` and `restore`: looking after the data."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .. import backup as backups
from .. import migrate_if_sqlite, retention
from .base import _run, _settings, main, out


# -- retention ------------------------------------------------------------------------------------
@main.group("retention")
def retention_group() -> None:
    """Delete what organisations no longer keep (their data_retention_days; rollups FORTIUM_ROLLUP_RETENTION_DAYS)."""


def _report_rows(report: retention.Report) -> list[dict]:
    return [{"org": r.slug, "events_before": r.events_before.isoformat(timespec="seconds"),
             "rollups_before": r.rollups_before.isoformat(), "events": r.events, "sessions": r.sessions,
             "rollup_rows": r.rollup_rows} for r in report.organizations]


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted (counts per organisation, partitions).")
@click.option("--org", "org_slug", help="Only this organisation (range deletes; whole partitions go only in a full run).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def retention_run(ctx: click.Context, dry_run: bool, org_slug: str | None, as_json: bool) -> None:
    """Run the retention job now. Safe to repeat; refused while another process runs it."""
    settings = _settings(ctx)
    report = _run(ctx, lambda store: retention.run(store, settings.rollup_retention_days, slug=org_slug,
                                                    dry_run=dry_run))
    rows = _report_rows(report)
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "partitions": report.partitions, "organizations": rows}, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    for row in rows:
        out.print(f"{row['org']}: {verb} {row['events']} events (before {row['events_before']}), {row['sessions']} "
                  f"sessions, {row['rollup_rows']} rollup rows (days before {row['rollups_before']})",
                  highlight=False, markup=False)
    parts = ", ".join(report.partitions) or "none"
    out.print(f"partitions {'droppable' if dry_run else 'dropped'}: {parts}", highlight=False, markup=False)


# -- backup / restore -------------------------------------------------------------------------------
def _print_fingerprint(url: str) -> None:
    for table, (rows, digest) in backups.fingerprint(url).items():
        click.echo(f"{table}\t{rows}\t{digest}")


verify_option = click.option("--verify", is_flag=True,
                             help="Print every table's row count and checksum (compare backup's with restore's).")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@verify_option
@click.pass_context
def backup_command(ctx: click.Context, file: Path, verify: bool) -> None:
    """Write a backup of the whole database to FILE.

    SQLite: the online backup API (the service may keep running). PostgreSQL: pg_dump custom
    format, as FORTIUM_ADMIN_DATABASE_URL (a superuser or a BYPASSRLS role).
    """
    settings = _settings(ctx)
    migrate_if_sqlite(settings)
    url = settings.effective_admin_database_url
    backups.backup(url, file)
    out.print(f"backup written to {file} ({file.stat().st_size} bytes)", highlight=False, markup=False)
    if verify:
        _print_fingerprint(url)


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@verify_option
@click.pass_context
def restore_command(ctx: click.Context, file: Path, yes: bool, verify: bool) -> None:
    """Replace the database's whole content with the backup FILE. Stop every server process first.

    PostgreSQL: pg_restore --clean in one transaction, as FORTIUM_ADMIN_DATABASE_URL; then run
    `fortium-metrics db upgrade` if the backup came from an older version.
    """
    settings = _settings(ctx)
    url = settings.effective_admin_database_url
    if not yes:
        click.confirm("This replaces everything in the database with the backup. Continue?", abort=True)
    backups.restore(url, file)
    migrate_if_sqlite(settings)
    out.print(f"restored from {file}", highlight=False, markup=False)
    if verify:
        _print_fingerprint(url)


