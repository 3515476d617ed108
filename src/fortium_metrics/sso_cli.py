"""`fortium-metrics sso configure|show|remove`: an organisation's OpenID Connect provider."""
from __future__ import annotations

import click

from . import sso
from .principal import ROLES
from .store.uow import Store, UnitOfWork


def _cli():
    # cli.py registers this group at its end, so its helpers exist by the time a command runs.
    from . import cli

    return cli


@click.group("sso")
def sso_group() -> None:
    """Single sign-on with an OpenID Connect provider, one per organisation.

    Register a confidential client at the provider with the redirect URI that `sso show`
    prints (FORTIUM_PUBLIC_URL + /api/auth/sso/callback); people then sign in at
    /api/auth/sso/ORG/login.
    """


@sso_group.command("configure")
@click.option("--org", "org_slug", required=True, help="Slug of the organisation to act in.")
@click.option("--issuer", required=True, help="The provider's issuer URL, exactly as its discovery document says.")
@click.option("--client-id", required=True, help="The client id registered at the provider.")
@click.option("--client-secret", required=True, help="The client secret (stored encrypted with FORTIUM_SECRET_KEY).")
@click.option("--scopes", default=sso.DEFAULT_SCOPES, show_default=True, help="Scopes requested; must include openid.")
@click.option("--jit/--no-jit", default=True, show_default=True,
              help="Create unknown people on their first sign-in (just-in-time provisioning).")
@click.option("--default-role", type=click.Choice(ROLES), default="developer", show_default=True,
              help="Role of people created just in time.")
@click.pass_context
def sso_configure(ctx: click.Context, org_slug: str, issuer: str, client_id: str, client_secret: str, scopes: str,
                  jit: bool, default_role: str) -> None:
    """Set (or replace) the organisation's identity provider."""
    cli = _cli()
    settings = cli._settings(ctx)

    async def work(store: Store) -> None:
        async def action(uow: UnitOfWork):
            return await sso.configure_sso(uow, settings, issuer, client_id, client_secret, scopes, jit, default_role)

        config = await cli._in_org(store, org_slug, action)
        cli.out.print(f"SSO configured for {org_slug}: {config.issuer} (client {config.client_id})")
        cli.out.print(f"register this redirect URI at the provider: {sso.redirect_uri(settings)}")

    cli._run(ctx, work)


@sso_group.command("show")
@click.option("--org", "org_slug", required=True, help="Slug of the organisation to act in.")
@click.pass_context
def sso_show(ctx: click.Context, org_slug: str) -> None:
    """Print the organisation's SSO configuration (the secret is never shown)."""
    cli = _cli()
    settings = cli._settings(ctx)

    async def work(store: Store) -> None:
        config = await cli._in_org(store, org_slug, sso.get_sso)
        for name, value in (("issuer", config.issuer), ("client id", config.client_id),
                            ("client secret", "******** (stored encrypted)"), ("scopes", config.scopes),
                            ("just-in-time provisioning", "on" if config.jit_provisioning else "off"),
                            ("default role", config.default_role), ("updated", config.updated_at.isoformat()),
                            ("redirect URI", sso.redirect_uri(settings)),
                            ("sign-in URL", sso.login_url(settings, org_slug))):
            click.echo(f"{name}: {value}")

    cli._run(ctx, work)


@sso_group.command("remove")
@click.option("--org", "org_slug", required=True, help="Slug of the organisation to act in.")
@click.pass_context
def sso_remove(ctx: click.Context, org_slug: str) -> None:
    """Turn SSO off for the organisation (people keep their accounts)."""
    cli = _cli()

    async def work(store: Store) -> None:
        await cli._in_org(store, org_slug, sso.remove_sso)
        cli.out.print(f"SSO removed for {org_slug}")

    cli._run(ctx, work)
