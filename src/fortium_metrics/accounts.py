"""Signing in and out: passwords, rotating refresh tokens, access-token principals.

Refresh tokens are opaque (`fmr_…`, only a SHA-256 stored) and rotate on every use inside a
family started at sign-in. Presenting an already-used token means it was stolen or replayed:
the whole family is revoked (every device of that sign-in must sign in again) and audited.
Signing out revokes the family too, and access tokens name their family (`sid`), so they stop
working at once rather than at expiry.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from . import audit
from .errors import Invalid, Unauthorized
from .jwt_tokens import TokenKeys
from .login_guard import LoginGuard
from .orgs import operator_only
from .passwords import hash_password, verify_password
from .permissions import authorize
from .principal import Principal
from .store import system_lookups
from .store.models import Organization, RefreshToken, SsoConfig, User
from .store.types import utcnow
from .store.uow import Store, UnitOfWork
from .users import get_user

GENERIC_FAILURE = "invalid e-mail or password"
ROLE_SCOPES = {"admin": frozenset({"ingest", "read", "admin"}), "manager": frozenset({"ingest", "read"}),
               "developer": frozenset({"ingest", "read"})}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def set_password(uow: UnitOfWork, user_ref: str, password: str) -> User:
    """The one way to give a user a password (REST, CLI): the password policy of passwords.py
    applies, and every sign-in session of the user ends — their refresh-token families are
    revoked, so the access tokens naming them (`sid`) stop working at once too."""
    await authorize(uow, "users.password")
    user = await get_user(uow, user_ref)
    user.password_hash = hash_password(password)
    ended = await uow.session.execute(update(RefreshToken).where(
        RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
    audit.record(uow, "user.password", target=user.email, refresh_tokens_revoked=ended.rowcount)
    return user


@dataclass(frozen=True)
class SignInSetup:
    """Whether anyone can administer the service yet (`serve` explains the first steps if not)."""

    organizations: list[str]  # slugs
    admins_without_password: list[tuple[str, str]]  # (organisation slug, e-mail) of active admins
    ready: bool  # an active admin has a password, or an organisation signs in through SSO


async def sign_in_setup(uow: UnitOfWork) -> SignInSetup:
    operator_only(uow, "read every organisation's sign-in set-up")
    slugs = list(await uow.session.scalars(select(Organization.slug).order_by(Organization.slug)))
    admins = (await uow.session.execute(
        select(Organization.slug, User.email, User.password_hash.is_not(None))
        .join(User, User.organization_id == Organization.id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(Organization.slug, User.email))).all()
    sso = await uow.session.scalar(select(SsoConfig.organization_id).limit(1))
    ready = sso is not None or any(has_password for _, _, has_password in admins)
    return SignInSetup(slugs, [(slug, email) for slug, email, has_password in admins if not has_password], ready)


class Accounts:
    """Built once per app: the store, the token keys, the failed-login guard."""

    def __init__(self, store: Store, keys: TokenKeys, guard: LoginGuard, refresh_ttl: timedelta) -> None:
        self.store, self.keys, self.guard, self.refresh_ttl = store, keys, guard, refresh_ttl

    async def login(self, email: str, password: str, client: str, org_slug: str | None = None) -> TokenPair:
        email = (email or "").strip().lower()
        await self.guard.check(email, client)
        # Accounts are per organisation; one e-mail may exist in several. Finding them is the one
        # cross-organisation read of a sign-in (ids only, store/system_lookups.py).
        found = await system_lookups.accounts_by_email(self.store, email)
        user = await self._find_user(found, email, password, org_slug)
        if user is None:
            await self.guard.failed(email, client)
            await self._audit_failure(found, email)
            raise Unauthorized(GENERIC_FAILURE)
        await self.guard.succeeded(email, client)
        async with self.store.unit_of_work(Principal.org_admin(user.organization_id, label=email)) as uow:
            pair = await self._issue(uow, user, uuid.uuid4())
            audit.record(uow, "login", target=email)
        return pair

    async def sign_in_user(self, user: User, method: str) -> TokenPair:
        """Start a session for a user another proof identified (SSO); audited with the method."""
        async with self.store.unit_of_work(Principal.org_admin(user.organization_id, label=user.email)) as uow:
            pair = await self._issue(uow, user, uuid.uuid4())
            audit.record(uow, "login", target=user.email, method=method)
        return pair

    async def _find_user(self, found: list[system_lookups.EmailAccount], email: str, password: str,
                         org_slug: str | None) -> User | None:
        """The active account the password opens; each is read inside its own organisation."""
        candidates = []
        for account in found:
            if account.active and (not org_slug or account.organization_slug == org_slug):
                async with self.store.unit_of_work(Principal.org_admin(account.organization_id, label=email)) as uow:
                    user = await uow.session.get(User, (account.organization_id, account.user_id))
                if user is not None and user.active:
                    candidates.append(user)
        matching = [u for u in candidates if verify_password(u.password_hash, password)] if candidates else []
        if not candidates:
            verify_password(None, password)  # same cost as a real check
        if len(matching) > 1:
            raise Invalid("org: this account exists in several organisations; give the organisation's slug", field="org")
        return matching[0] if matching else None

    async def _audit_failure(self, found: list[system_lookups.EmailAccount], email: str) -> None:
        # Only organisations where the e-mail exists get an entry.
        for org in {account.organization_id for account in found}:
            async with self.store.unit_of_work(Principal.org_admin(org, label="login")) as uow:
                audit.record(uow, "login.failed", target=email)

    async def _issue(self, uow: UnitOfWork, user: User, family: uuid.UUID) -> TokenPair:
        refresh = f"fmr_{secrets.token_urlsafe(32)}"
        now = utcnow()
        uow.session.add(RefreshToken(organization_id=user.organization_id, user_id=user.id, family_id=family,
                                     token_hash=_hash(refresh), issued_at=now, expires_at=now + self.refresh_ttl))
        access, access_expires = self.keys.issue(user.id, user.organization_id, user.role, family, now)
        return TokenPair(access, access_expires, refresh, now + self.refresh_ttl, user.id, user.organization_id, user.role)

    async def _token_organization(self, token: str, label: str) -> Principal | None:
        """A unit-of-work principal in the organisation of this refresh token, None if unknown."""
        org = await system_lookups.refresh_token_organization(self.store, _hash(token or ""))
        return None if org is None else Principal.org_admin(org, label=label)

    async def refresh(self, token: str) -> TokenPair:
        principal = await self._token_organization(token, "refresh")
        if principal is None:
            raise Unauthorized("refresh token is invalid, expired or revoked; sign in again")
        async with self.store.unit_of_work(principal) as uow:
            row = await uow.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(token or "")))
            if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
                raise Unauthorized("refresh token is invalid, expired or revoked; sign in again")
            if row.used_at is not None:
                await self._revoke_family(uow, row.organization_id, row.family_id, "token.reuse")
                reuse = True
            else:
                reuse = False
                row.used_at = utcnow()
                user = await uow.session.get(User, (row.organization_id, row.user_id))
                if user is None or not user.active:
                    raise Unauthorized("this account is deactivated")
                pair = await self._issue(uow, user, row.family_id)
        if reuse:  # raised after the commit, so the revocation sticks
            raise Unauthorized("refresh token was already used: every session of this sign-in has been revoked")
        return pair

    async def logout(self, token: str) -> None:
        principal = await self._token_organization(token, "logout")
        if principal is None:
            return
        async with self.store.unit_of_work(principal) as uow:
            row = await uow.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _hash(token or "")))
            if row is not None:
                await self._revoke_family(uow, row.organization_id, row.family_id, "logout")

    async def _revoke_family(self, uow: UnitOfWork, org: uuid.UUID, family: uuid.UUID, action: str) -> None:
        await uow.session.execute(update(RefreshToken).where(RefreshToken.family_id == family,
                                                             RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
        audit.record(uow, action, target=str(family), organization_id=org)

    async def principal_for_access_token(self, token: str) -> Principal:
        claims = self.keys.decode(token)
        org, user_id, family = uuid.UUID(claims["org"]), uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
        async with self.store.unit_of_work(Principal(org, user_id, kind="user", label="token")) as uow:
            revoked = await uow.session.scalar(select(RefreshToken.id).where(
                RefreshToken.family_id == family, RefreshToken.revoked_at.is_not(None)).limit(1))
            user = await uow.session.get(User, (org, user_id))
        if revoked is not None:
            raise Unauthorized("signed out: sign in again")
        if user is None or not user.active:
            raise Unauthorized("this account is deactivated")
        # The role comes from the database, not the token: a demotion applies immediately.
        return Principal(org, user_id, user.role, ROLE_SCOPES[user.role], "user", user.email)
