"""Single sign-on: OpenID Connect authorization-code flow with PKCE, one provider per organisation.

* `configure_sso` / `get_sso`: the organisation's provider (admins only). The client secret is
  stored encrypted (Fernet, key derived from FORTIUM_SECRET_KEY by HKDF; the previous keys still
  decrypt, so the secret key can rotate).
* `SsoService.start_login(slug)`: the provider's authorization URL, plus the *flow cookie* that
  keeps `state`, `nonce` and the PKCE verifier for ten minutes. The cookie is encrypted and
  authenticated (Fernet with its own derived key, timestamp checked), so no table is needed and
  the browser can neither read nor alter it.
* `SsoService.finish_login(...)`: checks the state against the cookie, exchanges the code (with
  the verifier and client authentication), validates the ID token (sso_oidc.py), then finds the
  person in *the cookie's* organisation — by `external_id` (issuer-qualified `sub`), then by
  verified e-mail (linking the account) — or creates them just in time with the default role.
  Every refusal after the cookie is read is audited as `login.failed` (method sso) in that
  organisation; success is audited as `login` by `Accounts.sign_in_user(user, "sso")`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlencode, urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from . import audit, orgs, users, validation
from .config import Settings
from .errors import ConfigError, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from .permissions import authorize
from .principal import ROLES, Principal
from .sso_oidc import OidcClient, ProviderMetadata
from .store.models import SsoConfig, User
from .store.types import utcnow
from .store.uow import Store, UnitOfWork

FLOW_TTL_SECONDS = 600
CALLBACK_PATH = "/api/auth/sso/callback"
DEFAULT_SCOPES = "openid email profile"


# -- keys -----------------------------------------------------------------------------------------
def _fernet(settings: Settings, purpose: bytes) -> MultiFernet:
    """A Fernet key per purpose, derived from the secret key and each previous one (rotation)."""
    secrets_ = [settings.secret_key, *settings.previous_secret_keys]
    info = b"fortium-metrics " + purpose
    keys = [HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(s.get_secret_value().encode()) for s in secrets_]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(k)) for k in keys])


def _secret_box(settings: Settings) -> MultiFernet:
    return _fernet(settings, b"sso client secret v1")


def _flow_box(settings: Settings) -> MultiFernet:
    return _fernet(settings, b"sso flow cookie v1")


def client_secret(settings: Settings, config: SsoConfig) -> str:
    try:
        return _secret_box(settings).decrypt(config.client_secret.encode()).decode()
    except InvalidToken:
        raise ConfigError("the stored SSO client secret cannot be decrypted with FORTIUM_SECRET_KEY (rotated without "
                          "FORTIUM_PREVIOUS_SECRET_KEYS?): run `fortium-metrics sso configure` again") from None


# -- configuration --------------------------------------------------------------------------------
def _issuer(value: str) -> str:
    value = (value or "").strip()
    parts = urlsplit(value)
    loopback = parts.hostname in ("localhost",) or _is_loopback(parts.hostname)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise Invalid(f"issuer: must be the provider's https:// issuer URL, without query or fragment (got {value!r})",
                      field="issuer")
    if parts.scheme == "http" and not loopback:
        raise Invalid("issuer: must use https (plain http only for a provider on this machine)", field="issuer")
    return value


def _is_loopback(host: str | None) -> bool:
    try:
        return ip_address(host or "").is_loopback
    except ValueError:
        return False


def _scopes(value: str) -> str:
    scopes = list(dict.fromkeys((value or "").split()))
    if "openid" not in scopes:
        raise Invalid("scopes: must include `openid` (e.g. 'openid email profile')", field="scopes")
    return " ".join(scopes)


async def _require_admin(uow: UnitOfWork) -> None:
    if uow.principal.organization_id is None:
        raise Forbidden("SSO is configured inside one organisation: act as its administrator")
    await authorize(uow, "sso.configure")


async def configure_sso(uow: UnitOfWork, settings: Settings, issuer: str, client_id: str, client_secret: str,
                        scopes: str = DEFAULT_SCOPES, jit: bool = True, default_role: str = "developer") -> SsoConfig:
    """Create or replace the organisation's provider. Admins only."""
    await _require_admin(uow)
    issuer = _issuer(issuer)
    client_id = validation.non_empty(client_id, "client_id", 255)
    secret = validation.non_empty(client_secret, "client_secret", 255)
    default_role = validation.one_of(default_role, ROLES, "default_role")
    values = dict(issuer=issuer, client_id=client_id, scopes=_scopes(scopes), jit_provisioning=jit,
                  default_role=default_role, updated_at=utcnow(),
                  client_secret=_secret_box(settings).encrypt(secret.encode()).decode())
    config = await uow.session.scalar(select(SsoConfig))
    if config is None:
        config = SsoConfig(**values)
        uow.session.add(config)
    else:
        for name, value in values.items():
            setattr(config, name, value)
    await uow.session.flush()
    audit.record(uow, "sso.configure", target=issuer, client_id=client_id, jit=jit, default_role=default_role)
    return config


async def get_sso(uow: UnitOfWork) -> SsoConfig:
    config = await uow.session.scalar(select(SsoConfig))
    if config is None:
        raise NotFound("sso: SSO is not configured for this organisation", field="sso")
    return config


async def remove_sso(uow: UnitOfWork) -> None:
    """Turn SSO off; accounts stay (and keep their external ids, should it be turned on again)."""
    await _require_admin(uow)
    config = await get_sso(uow)
    await uow.session.delete(config)
    audit.record(uow, "sso.remove", target=config.issuer)


def redirect_uri(settings: Settings) -> str:
    """What to register at the provider: the one callback every organisation shares."""
    return settings.effective_public_url + CALLBACK_PATH


def login_url(settings: Settings, org_slug: str) -> str:
    return f"{settings.effective_public_url}/api/auth/sso/{org_slug}/login"


def external_id(issuer: str, subject: str) -> str:
    """`sub` is unique only per issuer, so the stored id names both (hashed if too long)."""
    value = f"{issuer}#{subject}"
    return value if len(value) <= 255 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


# -- the flow ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginStart:
    url: str
    flow_cookie: str


@dataclass(frozen=True)
class _Flow:
    org: uuid.UUID
    issuer: str
    client_id: str
    state: str
    nonce: str
    verifier: str


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class SsoService:
    """Built once per app (it holds the discovery and JWKS caches)."""

    def __init__(self, store: Store, settings: Settings, oidc: OidcClient | None = None) -> None:
        self.store, self.settings, self.oidc = store, settings, oidc or OidcClient()

    async def start_login(self, org_slug: str) -> LoginStart:
        org_id, config = await self._config_for_slug(org_slug)
        meta = await self.oidc.metadata(config.issuer)
        flow = _Flow(org_id, config.issuer, config.client_id, secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                     secrets.token_urlsafe(64))
        query = {"response_type": "code", "client_id": config.client_id, "redirect_uri": redirect_uri(self.settings),
                 "scope": config.scopes, "state": flow.state, "nonce": flow.nonce,
                 "code_challenge": _challenge(flow.verifier), "code_challenge_method": "S256"}
        separator = "&" if "?" in meta.authorization_endpoint else "?"
        return LoginStart(meta.authorization_endpoint + separator + urlencode(query), self._seal(flow))

    async def _config_for_slug(self, slug: str) -> tuple[uuid.UUID, SsoConfig]:
        unknown = NotFound(f"org: no SSO sign-in is configured for organisation {slug!r}", field="org")
        try:
            org = await orgs.id_for_slug(self.store, (slug or "").strip().lower())
        except NotFound:
            raise unknown from None
        async with self.store.unit_of_work(Principal.org_admin(org, label="sso")) as uow:
            config = await uow.session.scalar(select(SsoConfig))
        if config is None:
            raise unknown
        return org, config

    def _seal(self, flow: _Flow) -> str:
        payload = {**flow.__dict__, "org": str(flow.org)}
        return _flow_box(self.settings).encrypt(json.dumps(payload).encode()).decode()

    def _open(self, cookie: str | None) -> _Flow:
        if not cookie:
            raise Unauthorized("state: no SSO sign-in is in progress in this browser (the flow cookie is missing "
                               "or expired); start the sign-in again", field="state")
        try:
            data = json.loads(_flow_box(self.settings).decrypt(cookie.encode(), ttl=FLOW_TTL_SECONDS))
            return _Flow(**{**data, "org": uuid.UUID(data["org"])})
        except (InvalidToken, ValueError, TypeError, KeyError):
            raise Unauthorized("state: the SSO sign-in expired (10 minutes) or its cookie is invalid; "
                               "start the sign-in again", field="state") from None

    async def finish_login(self, code: str | None, state: str | None, flow_cookie: str | None, *,
                           iss: str | None = None, error: str | None = None,
                           error_description: str | None = None) -> User:
        """The callback: returns the signed-in user of the flow's organisation, or raises."""
        flow = self._open(flow_cookie)
        try:
            return await self._finish(flow, code, state, iss, error, error_description)
        except DomainError as failure:
            await self._audit_failure(flow.org, failure)
            raise

    async def _finish(self, flow: _Flow, code: str | None, state: str | None, iss: str | None,
                      error: str | None, error_description: str | None) -> User:
        if not state or not hmac.compare_digest(state, flow.state):
            raise Unauthorized("state: the state does not match this browser's SSO sign-in (a forged or stale "
                               "response); start the sign-in again", field="state")
        if error:
            detail = f" ({error_description})" if error_description else ""
            raise Unauthorized(f"error: the identity provider refused the sign-in: {error}{detail}", field="error")
        config, secret = await self._current_config(flow)
        meta = await self.oidc.metadata(config.issuer)
        if (iss is not None or meta.iss_parameter) and iss != meta.issuer:
            raise Unauthorized(f"iss: the authorization response comes from {iss!r}, not the organisation's provider "
                               f"{meta.issuer!r} (mix-up)", field="iss")
        if not code:
            raise Invalid("code: the identity provider's response has no authorization code", field="code")
        tokens = await self.oidc.exchange_code(meta, config.client_id, secret, code, redirect_uri(self.settings),
                                               flow.verifier)
        claims = await self.oidc.validate_id_token(meta, tokens["id_token"], config.client_id, flow.nonce)
        claims = await self._with_userinfo(meta, claims, tokens.get("access_token"))
        return await self._match_user(flow.org, config, claims)

    async def _current_config(self, flow: _Flow) -> tuple[SsoConfig, str]:
        async with self.store.unit_of_work(Principal.org_admin(flow.org, label="sso")) as uow:
            config = await uow.session.scalar(select(SsoConfig))
        if config is None or (config.issuer, config.client_id) != (flow.issuer, flow.client_id):
            raise Unauthorized("state: the organisation's SSO configuration changed during the sign-in; start again",
                               field="state")
        return config, client_secret(self.settings, config)

    async def _with_userinfo(self, meta: ProviderMetadata, claims: dict, access_token: str | None) -> dict:
        """Many providers put e-mail claims only in userinfo (OIDC Core §5.4); its `sub` must match."""
        if claims.get("email") or not meta.userinfo_endpoint or not access_token:
            return claims
        info = await self.oidc.userinfo(meta, access_token)
        if info.get("sub") != claims["sub"]:
            raise Unauthorized("id_token: the provider's userinfo describes another subject than the ID token",
                               field="id_token")
        return {**info, **claims}

    async def _match_user(self, org: uuid.UUID, config: SsoConfig, claims: dict) -> User:
        ext = external_id(config.issuer, str(claims["sub"]))
        email = str(claims.get("email") or "").strip().lower()
        verified = claims.get("email_verified") in (True, "true")
        async with self.store.unit_of_work(Principal.org_admin(org, label="sso")) as uow:
            user = await uow.session.scalar(select(User).where(User.external_id == ext))
            if user is None and email:
                user = await self._link_by_email(uow, email, verified, ext)
            if user is None:
                user = await self._provision(uow, config, email, verified, ext, claims)
            if not user.active:
                raise Forbidden(f"this account ({user.email}) is deactivated in the organisation", field="email")
            return user

    async def _link_by_email(self, uow: UnitOfWork, email: str, verified: bool, ext: str) -> User | None:
        user = await uow.session.scalar(select(User).where(User.email == email))
        if user is None:
            return None
        if not verified:
            raise Forbidden(f"email: the identity provider has not verified {email}, so it cannot sign in to the "
                            "existing account with that address", field="email")
        if user.external_id is not None:
            raise Forbidden(f"email: the account {email} is already linked to another identity at the provider; "
                            "an administrator must clear that link first", field="email")
        user.external_id = ext
        audit.record(uow, "user.sso_link", target=email, external_id=ext)
        return user

    async def _provision(self, uow: UnitOfWork, config: SsoConfig, email: str, verified: bool, ext: str,
                         claims: dict) -> User:
        if not config.jit_provisioning:
            raise Forbidden(f"email: there is no account for {email or 'this identity'} in the organisation and "
                            "just-in-time provisioning is off; ask an administrator to add you", field="email")
        if not email or not verified:
            raise Forbidden("email: the identity provider gave no verified e-mail address, which a new account "
                            "needs (is the `email` scope granted?)", field="email")
        name = str(claims.get("name") or "")[:200]
        return await users.create_user(uow, email, name, config.default_role, external_id=ext)

    async def _audit_failure(self, org: uuid.UUID, failure: DomainError) -> None:
        async with self.store.unit_of_work(Principal.org_admin(org, label="sso")) as uow:
            audit.record(uow, "login.failed", target=None, method="sso", code=failure.code,
                         reason=failure.message[:500])
