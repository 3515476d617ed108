"""`user` and `team`: the people of an organisation, their passwords and their teams."""
from __future__ import annotations

import sys

import click

from .. import accounts, invitations, teams, users
from ..principal import ROLES
from .base import _settings, json_option, main, org_option, out, run_in_org
from .output import emit, emit_record, rows_of

ROLE_HELP = ("admin: everything, including people, teams, API keys, settings and the audit log; "
             "manager: reads every team's data and manages projects; "
             "developer: records their own work and reads their own data (and totals of their teams).")
TEAM_ROLE_HELP = "lead: manages the team's members and reads their data; member: belongs to the team."
USER_COLUMNS = {"email": "email", "name": "name", "role": "role", "active": "active", "id": "id"}

password_stdin_option = click.option("--password-stdin", is_flag=True,
                                     help="Read the password from the first line of standard input (scripts).")


def read_password(prompt: bool, stdin: bool) -> str | None:
    """The password asked for, hidden and twice (`prompt`), or one line of stdin; None if neither."""
    if prompt and stdin:
        raise click.UsageError("--password-prompt and --password-stdin: choose one")
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if prompt:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return None


# -- user ---------------------------------------------------------------------------------------
@main.group()
def user() -> None:
    """People of an organisation: create, list, show, passwords, deactivate."""


@user.command("create")
@org_option
@click.option("--email", required=True, help="E-mail address, unique in the organisation.")
@click.option("--name", default="", help="Display name.")
@click.option("--role", type=click.Choice(ROLES), default="developer", show_default=True, help=ROLE_HELP)
@click.option("--password-prompt", is_flag=True, help="Ask for a password to sign in with (hidden, twice).")
@password_stdin_option
@click.pass_context
def user_create(ctx: click.Context, org_slug: str, email: str, name: str, role: str, password_prompt: bool,
                password_stdin: bool) -> None:
    """Create a user; with a password they can sign in (else: set one later, or SSO)."""
    password = read_password(password_prompt, password_stdin)

    async def action(uow):
        created = await users.create_user(uow, email, name, role)
        if password is not None:  # the same unit of work: a refused password creates no user
            await accounts.set_password(uow, str(created.id), password)
        return created

    created = run_in_org(ctx, org_slug, action)
    with_password = ", can sign in with the password" if password is not None else ""
    out.print(f"created user {created.email} ({created.role}, {created.id}){with_password}", highlight=False)


@user.command("set-password")
@click.argument("email")
@org_option
@password_stdin_option
@click.pass_context
def user_set_password(ctx: click.Context, email: str, org_slug: str, password_stdin: bool) -> None:
    """Set the password of the user EMAIL (or id), asked for twice with hidden input. Their
    sign-in sessions end (signed-in browsers and tokens must sign in again)."""
    password = read_password(not password_stdin, password_stdin)
    changed = run_in_org(ctx, org_slug, lambda uow: accounts.set_password(uow, email, password))
    out.print(f"password set for {changed.email}; their earlier sign-ins have ended", highlight=False)


@user.command("invite")
@org_option
@click.option("--email", required=True, help="Their e-mail address.")
@click.option("--name", default="", help="Display name (they may change it when accepting).")
@click.option("--role", type=click.Choice(ROLES), default="developer", show_default=True, help=ROLE_HELP)
@click.pass_context
def user_invite(ctx: click.Context, org_slug: str, email: str, name: str, role: str) -> None:
    """Invite someone by e-mail (FORTIUM_SMTP_*): a one-time link to choose their password. Without
    an SMTP server the link is printed, to pass on yourself."""
    settings = _settings(ctx)

    async def action(uow):
        return await invitations.invite_and_send(uow, settings, settings.effective_public_url, email, name, role)

    sent = run_in_org(ctx, org_slug, action)
    new, link = sent.new, sent.link
    if sent.emailed:
        out.print(f"invitation e-mailed to {new.invitation.email} (valid until {new.invitation.expires_at:%Y-%m-%d %H:%M} UTC)",
                  highlight=False)
    else:
        out.print(f"no SMTP server (FORTIUM_SMTP_HOST): send {new.invitation.email} this link, valid once until "
                  f"{new.invitation.expires_at:%Y-%m-%d %H:%M} UTC:", highlight=False)
        click.echo(link)


@user.command("list")
@org_option
@json_option
@click.pass_context
def user_list(ctx: click.Context, org_slug: str, as_json: bool) -> None:
    """List the users of an organisation."""
    emit(out, rows_of("UserOut", run_in_org(ctx, org_slug, users.list_users)), USER_COLUMNS, as_json)


@user.command("show")
@click.argument("user_ref", metavar="USER")
@org_option
@json_option
@click.pass_context
def user_show(ctx: click.Context, user_ref: str, org_slug: str, as_json: bool) -> None:
    """Show USER (e-mail or id): role, state, whether they have a password, their teams."""

    async def action(uow):
        return await users.show_user(uow, user_ref), await teams.teams_of(uow, user_ref)

    found, memberships = run_in_org(ctx, org_slug, action)
    record = {**rows_of("UserOut", [found])[0], "has_password": found.password_hash is not None,
              "teams": [{"slug": team.slug, "id": str(team.id), "role": role} for team, role in memberships]}
    columns = {**USER_COLUMNS, "external_id": "external id", "created_at": "created", "has_password": "password set"}
    if not as_json:
        record["teams"] = [f"{t['slug']} ({t['role']})" for t in record["teams"]]
        columns["teams"] = "teams"
    emit_record(out, record, columns, as_json)


def _set_active(ctx: click.Context, org_slug: str, user_ref: str, active: bool) -> None:
    changed = run_in_org(ctx, org_slug, lambda uow: users.update_user(uow, user_ref, active=active))
    out.print(f"{changed.email} is {'active' if changed.active else 'deactivated'}", highlight=False)


@user.command("deactivate")
@click.argument("user_ref", metavar="USER")
@org_option
@click.pass_context
def user_deactivate(ctx: click.Context, user_ref: str, org_slug: str) -> None:
    """Deactivate USER (e-mail or id): their data stays; their sign-ins, tokens and keys stop working."""
    _set_active(ctx, org_slug, user_ref, False)


@user.command("reactivate")
@click.argument("user_ref", metavar="USER")
@org_option
@click.pass_context
def user_reactivate(ctx: click.Context, user_ref: str, org_slug: str) -> None:
    """Let a deactivated USER (e-mail or id) sign in again."""
    _set_active(ctx, org_slug, user_ref, True)


# -- team ---------------------------------------------------------------------------------------
@main.group()
def team() -> None:
    """Teams and memberships."""


@team.command("create")
@org_option
@click.argument("name")
@click.option("--slug", help="Short name, unique in the organisation (default: from NAME).")
@click.option("--description", default="", help="What the team does.")
@click.pass_context
def team_create(ctx: click.Context, org_slug: str, name: str, slug: str | None, description: str) -> None:
    """Create a team called NAME."""
    created = run_in_org(ctx, org_slug, lambda uow: teams.create_team(uow, name, slug, description))
    out.print(f"created team {created.slug} ({created.id})", highlight=False)


@team.command("list")
@org_option
@json_option
@click.pass_context
def team_list(ctx: click.Context, org_slug: str, as_json: bool) -> None:
    """List the teams of an organisation."""
    rows = rows_of("TeamOut", run_in_org(ctx, org_slug, teams.list_teams))
    emit(out, rows, {"slug": "slug", "name": "name", "description": "description", "id": "id"}, as_json)


@team.command("show")
@org_option
@click.argument("team_ref", metavar="TEAM")
@json_option
@click.pass_context
def team_show(ctx: click.Context, org_slug: str, team_ref: str, as_json: bool) -> None:
    """Show TEAM (slug or id) and its members with their team roles."""
    found, members = run_in_org(ctx, org_slug, lambda uow: teams.show_team(uow, team_ref))
    record = rows_of("TeamOut", [found])[0]
    member_rows = [{"user_id": str(m.user_id), "email": m.email, "name": m.name, "role": m.role} for m in members]
    if as_json:
        emit_record(out, {**record, "members": member_rows}, {}, True)
        return
    emit_record(out, record, {"slug": "slug", "name": "name", "description": "description", "id": "id"}, False)
    out.print("")
    emit(out, member_rows, {"email": "member", "name": "name", "role": "team role", "user_id": "user id"}, False)


@team.command("add-member")
@org_option
@click.argument("team_ref", metavar="TEAM")
@click.argument("user_ref", metavar="USER")
@click.option("--role", type=click.Choice(teams.TEAM_ROLES), default="member", show_default=True, help=TEAM_ROLE_HELP)
@click.pass_context
def team_add_member(ctx: click.Context, org_slug: str, team_ref: str, user_ref: str, role: str) -> None:
    """Add USER (e-mail or id) to TEAM (slug or id), or change their team role."""
    run_in_org(ctx, org_slug, lambda uow: teams.add_member(uow, team_ref, user_ref, role))
    out.print(f"{user_ref} is now {role} of {team_ref}", highlight=False)


@team.command("remove-member")
@org_option
@click.argument("team_ref", metavar="TEAM")
@click.argument("user_ref", metavar="USER")
@click.pass_context
def team_remove_member(ctx: click.Context, org_slug: str, team_ref: str, user_ref: str) -> None:
    """Take USER (e-mail or id) out of TEAM (slug or id); their account and data stay."""
    removed = run_in_org(ctx, org_slug, lambda uow: teams.remove_member(uow, team_ref, user_ref))
    out.print(f"{removed.email} is no longer in {team_ref}", highlight=False)
