"""Invitations: an administrator invites someone by e-mail; the one-time link lets them choose
a password, which creates their account (users.create_user, accounts.set_password: the same
rules as creating a user directly) and signs them in.

The link's token is 256 random bits; only its SHA-256 is stored (like API keys), it expires
(FORTIUM_INVITATION_DAYS), and it works once. Inviting the same address again replaces the
pending invitation. Every step is audited.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from . import audit, validation
from .accounts import set_password
from .apikeys import hash_secret
from .config import Settings
from .errors import Conflict, NotFound
from .lookup import ref_condition
from .mailer import MailNotConfigured, send
from .permissions import authorize
from .principal import ROLES, Principal
from .store import system_lookups
from .store.invitation_models import Invitation
from .store.models import Organization, User
from .store.types import utcnow
from .store.uow import Store, UnitOfWork
from .users import create_user

TOKEN_PREFIX = "fmi_"
GONE = "token: this invitation link is not valid any more (used, replaced, withdrawn or expired); ask for a new one"


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str  # in the link only, never stored


@dataclass(frozen=True)
class Delivered:
    new: NewInvitation
    link: str
    emailed: bool  # False: no SMTP server, the inviter passes `link` on


@dataclass(frozen=True)
class Pending:
    """What the accept page shows before the password is chosen."""

    email: str
    name: str
    organization: str


async def invite(uow: UnitOfWork, email: str, name: str = "", role: str = "developer", days: int = 7) -> NewInvitation:
    await authorize(uow, "users.create")
    email = validation.email(email)
    role = validation.one_of(role, ROLES, "role")
    name = (name or "").strip()[:200]
    if await uow.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"email: a user with e-mail {email!r} already exists in this organisation", field="email")
    await _withdraw(uow, Invitation.email == email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(email=email, name=name, role=role, token_hash=hash_secret(token),
                            invited_by=uow.principal.label or uow.principal.kind,
                            expires_at=utcnow() + timedelta(days=days))
    uow.session.add(invitation)
    await uow.session.flush()
    audit.record(uow, "user.invite", target=email, role=role, expires_at=invitation.expires_at.isoformat())
    return NewInvitation(invitation, token)


async def pending_invitations(uow: UnitOfWork) -> list[Invitation]:
    await authorize(uow, "users.list")
    return list(await uow.session.scalars(select(Invitation).where(
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())
        .order_by(Invitation.created_at.desc())))


async def withdraw(uow: UnitOfWork, ref: str) -> Invitation:
    """`ref`: the invitation's id, or the e-mail address of its pending invitation (an address
    may also have replaced, withdrawn or accepted ones, which are not meant)."""
    await authorize(uow, "users.create")
    invitation = await uow.session.scalar(
        select(Invitation).where(ref_condition(Invitation, ref, Invitation.email, str(ref).strip().lower()))
        .order_by(Invitation.revoked_at.is_not(None), Invitation.accepted_at.is_not(None), Invitation.created_at.desc())
        .limit(1))
    if invitation is None:
        raise NotFound(f"invitation: no invitation {ref!r} in this organisation", field="invitation")
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        audit.record(uow, "user.invite.withdraw", target=invitation.email)
    return invitation


async def _withdraw(uow: UnitOfWork, where) -> None:
    await uow.session.execute(update(Invitation).where(where, Invitation.accepted_at.is_(None),
                                                       Invitation.revoked_at.is_(None)).values(revoked_at=utcnow()))


async def _find(uow: UnitOfWork, token: str) -> Invitation:
    found = await uow.session.scalar(select(Invitation).where(Invitation.token_hash == hash_secret(token or "")))
    if found is None or found.accepted_at or found.revoked_at or found.expires_at <= utcnow():
        raise NotFound(GONE, field="token")
    return found


async def _organization_of(store: Store, token: str) -> uuid.UUID:
    """The organisation a link's token belongs to, from any organisation (the token is the proof)."""
    organization_id = await system_lookups.invitation_organization(store, hash_secret(token or ""))
    if organization_id is None:
        raise NotFound(GONE, field="token")
    return organization_id


async def look_up(store: Store, token: str) -> Pending:
    organization_id = await _organization_of(store, token)
    async with store.unit_of_work(Principal.org_admin(organization_id, label="invitation")) as uow:
        found = await _find(uow, token)
        org = await uow.session.get(Organization, found.organization_id)
        return Pending(found.email, found.name, org.name)


async def accept(store: Store, token: str, password: str, name: str | None = None) -> User:
    """Create the invited account with this password; the link stops working."""
    organization_id = await _organization_of(store, token)
    async with store.unit_of_work(Principal.org_admin(organization_id, label="invitation")) as uow:
        found = await _find(uow, token)  # inside the organisation: expired, used or revoked is a 404
        found.accepted_at = utcnow()
        user = await create_user(uow, found.email, (name or "").strip() or found.name, found.role)
        await set_password(uow, str(user.id), password)
        audit.record(uow, "user.invite.accept", target=found.email)
    return user


async def send_invitation(uow: UnitOfWork, settings: Settings, new: NewInvitation, base_url: str) -> str:
    """E-mail the invitation's link (FORTIUM_SMTP_*); returns the link. Called inside the unit of
    work that made the invitation, so one that could not be sent is not kept. Without an SMTP
    server: mailer.MailNotConfigured, and the caller hands the link over itself."""
    await authorize(uow, "users.create")
    link = f"{base_url.rstrip('/')}/invite/{new.token}"
    org = await uow.session.get(Organization, uow.principal.organization_id)
    name = new.invitation.name
    days = round((new.invitation.expires_at - new.invitation.created_at).total_seconds() / 86400)
    await send(settings, new.invitation.email, f"You are invited to {org.name} on fortium-metrics", (
        f"Hello{' ' + name if name else ''},\n\n{new.invitation.invited_by} invites you to {org.name} on "
        "fortium-metrics, which shows your organisation how its teams use Claude Code.\n\n"
        f"Choose your password here (the link works once, for {days} days):\n\n{link}\n\n"
        "If you did not expect this e-mail, ignore it.\n"))
    return link


async def invite_and_send(uow: UnitOfWork, settings: Settings, base_url: str, email: str, name: str = "",
                          role: str = "developer") -> Delivered:
    """Invite, then e-mail the link (FORTIUM_SMTP_*); without an SMTP server the link comes back
    for the inviter to pass on. The one action behind the CLI, the users page and the REST API."""
    new = await invite(uow, email, name, role, settings.invitation_days)
    try:
        return Delivered(new, await send_invitation(uow, settings, new, base_url), True)
    except MailNotConfigured:
        return Delivered(new, f"{base_url.rstrip('/')}/invite/{new.token}", False)
