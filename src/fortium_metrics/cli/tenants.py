"""`org` (the tenants; operator commands in the system scope) and `apikey`."""
from __future__ import annotations

import click

from .. import apikeys, orgs
from ..principal import SCOPES
from .base import err, json_option, main, org_option, out, run_as_operator, run_in_org
from .output import emit, rows_of


# -- org ----------------------------------------------------------------------------------------
@main.group()
def org() -> None:
    """Organisations (tenants): create, list, rename, delete."""


@org.command("create")
@click.argument("name")
@click.option("--slug", help="Short unique name used in URLs and --org (default: from NAME).")
@click.option("--retention-days", type=click.IntRange(*orgs.RETENTION_DAYS), default=365, show_default=True,
              help="How long metric events are kept.")
@click.pass_context
def org_create(ctx: click.Context, name: str, slug: str | None, retention_days: int) -> None:
    """Create an organisation called NAME."""
    created = run_as_operator(ctx, lambda uow: orgs.create_organization(uow, name, slug, retention_days))
    out.print(f"created organisation {created.slug} ({created.id})", highlight=False)


@org.command("list")
@json_option
@click.pass_context
def org_list(ctx: click.Context, as_json: bool) -> None:
    """List all organisations."""
    rows = run_as_operator(ctx, orgs.list_organizations)
    emit(out, rows_of("OrgOut", rows), {"slug": "slug", "name": "name", "data_retention_days": "retention (days)",
                                      "id": "id"}, as_json)


@org.command("rename")
@click.argument("slug")
@click.argument("name", required=False)
@click.option("--slug", "new_slug", help="A new slug as well (or instead); sign-in URLs and --org then use it.")
@click.pass_context
def org_rename(ctx: click.Context, slug: str, name: str | None, new_slug: str | None) -> None:
    """Give the organisation SLUG the display name NAME, and/or a new slug."""
    renamed = run_as_operator(ctx, lambda uow: orgs.rename_organization(uow, slug, name, new_slug))
    out.print(f"organisation {renamed.slug}: {renamed.name}", highlight=False)


@org.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@click.pass_context
def org_delete(ctx: click.Context, slug: str, yes: bool) -> None:
    """Delete the organisation SLUG and all its data, for good: people, teams, projects, API keys,
    sessions, events, imports, SSO settings and its audit log. Asks you to type the slug first."""
    if not yes:
        typed = click.prompt(f"This deletes organisation {slug!r} and all its data; it cannot be undone.\n"
                             "Type the organisation's slug to confirm", default="", show_default=False)
        if typed.strip() != slug:
            err.print("not deleted: what you typed is not the slug", highlight=False)
            ctx.exit(1)
    removed = run_as_operator(ctx, lambda uow: orgs.delete_organization(uow, slug))
    summary = ", ".join(f"{count} {table}" for table, count in removed.items() if count) or "no rows"
    out.print(f"deleted organisation {slug} ({summary})", highlight=False)


# -- apikey -------------------------------------------------------------------------------------
@main.group()
def apikey() -> None:
    """API keys for Claude Code, hooks and scripts (the secret is shown once)."""


@apikey.command("create")
@org_option
@click.option("--name", required=True, help="What the key is for, e.g. 'alice laptop'.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="Repeatable. ingest: send events; read: read summaries; admin: manage people, teams, "
                   "keys, settings. Default: ingest and read.")
@click.option("--user", "user_ref", help="Act as this user (e-mail or id); their role applies.")
@click.pass_context
def apikey_create(ctx: click.Context, org_slug: str, name: str, scopes: tuple[str, ...], user_ref: str | None) -> None:
    """Create an API key and print its secret once."""
    new = run_in_org(ctx, org_slug, lambda uow: apikeys.create_api_key(uow, name, list(scopes), user_ref))
    err.print(f"created key {new.key.prefix} ({new.key.id}) with scopes {', '.join(new.key.scopes)}; "
              "store the secret now, it is not shown again:", highlight=False)
    click.echo(new.secret)


@apikey.command("list")
@org_option
@json_option
@click.pass_context
def apikey_list(ctx: click.Context, org_slug: str, as_json: bool) -> None:
    """List an organisation's keys (prefixes only; secrets are never stored)."""
    rows = run_in_org(ctx, org_slug, apikeys.list_api_keys)
    emit(out, rows_of("KeyOut", rows), {"prefix": "prefix", "name": "name", "scopes": "scopes", "created_at": "created",
                                      "last_used_at": "last used", "revoked_at": "revoked", "id": "id"}, as_json)


@apikey.command("revoke")
@org_option
@click.argument("key_ref", metavar="KEY")
@click.pass_context
def apikey_revoke(ctx: click.Context, org_slug: str, key_ref: str) -> None:
    """Revoke KEY (its prefix or id). Requests with it are refused from now on."""
    key = run_in_org(ctx, org_slug, lambda uow: apikeys.revoke_api_key(uow, key_ref))
    out.print(f"revoked key {key.prefix}", highlight=False)
