"""API keys: `fmk_<prefix>_<secret>`. Only a SHA-256 of the whole key is stored.

A plain hash (not Argon2) is right here: the secret is 256 random bits, so there is nothing to
brute-force, and keys are checked on every request where a slow hash would cost real latency.
"""
from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import select

from . import audit, validation
from .lookup import find_one
from .permissions import authorize
from .errors import Invalid, NotFound
from .principal import SCOPES
from .store.models import ApiKey
from .store.types import utcnow
from .store.uow import UnitOfWork
from .users import get_user

KEY_PREFIX = "fmk_"
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once, never stored


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    parts = token.split("_", 2)  # the secret part may itself contain "_"
    if len(parts) != 3 or parts[0] + "_" != KEY_PREFIX or len(parts[1]) != 10 or len(parts[2]) < 32:
        return None
    return parts[1]


async def create_api_key(uow: UnitOfWork, name: str, scopes: list[str] | None = None,
                         user_ref: str | None = None) -> NewKey:
    await authorize(uow, "apikeys.manage")
    name = validation.non_empty(name, "name")
    scopes = sorted(set(scopes or ["ingest", "read"]))
    for scope in scopes:
        if scope not in SCOPES:
            raise Invalid(f"scopes: unknown scope {scope!r} (known: {', '.join(SCOPES)})", field="scopes")
    user_id = (await get_user(uow, user_ref)).id if user_ref else None
    return await _new_key(uow, name, scopes, user_id)


async def _new_key(uow: UnitOfWork, name: str, scopes: list[str], user_id, **audited) -> NewKey:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, scopes=scopes, user_id=user_id, prefix=prefix, secret_hash=hash_secret(secret))
    uow.session.add(key)
    await uow.session.flush()
    audit.record(uow, "apikey.create", target=prefix, name=name, scopes=scopes, **audited)
    return NewKey(key, secret)


async def list_api_keys(uow: UnitOfWork) -> list[ApiKey]:
    await authorize(uow, "apikeys.manage")
    return list(await uow.session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


async def revoke_api_key(uow: UnitOfWork, ref: str) -> ApiKey:
    """By id or display prefix; revoking twice is harmless."""
    await authorize(uow, "apikeys.manage")
    key = await find_one(uow, ApiKey, ref, ApiKey.prefix, "key", "API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(uow, "apikey.revoke", target=key.prefix)
    return key


# -- one's own keys ("Connect Claude Code"): anyone signed in, bound to themselves, never `admin` --
OWN_SCOPES = ["ingest", "read"]


async def create_own_key(uow: UnitOfWork, name: str) -> NewKey:
    await authorize(uow, "apikeys.own")
    if uow.principal.user_id is None:
        raise Invalid("user: only a person has keys of their own", field="user")
    return await _new_key(uow, validation.non_empty(name, "name"), OWN_SCOPES, uow.principal.user_id, own=True)


async def list_own_keys(uow: UnitOfWork) -> list[ApiKey]:
    await authorize(uow, "apikeys.own")
    if uow.principal.user_id is None:  # an organisation key owns no keys (`user_id IS NULL` would be all of them)
        return []
    return list(await uow.session.scalars(select(ApiKey).where(ApiKey.user_id == uow.principal.user_id)
                                          .order_by(ApiKey.created_at)))


async def revoke_own_key(uow: UnitOfWork, ref: str) -> ApiKey:
    """Someone else's key is not found (404), like another organisation's."""
    await authorize(uow, "apikeys.own")
    key = await find_one(uow, ApiKey, ref, ApiKey.prefix, "key", "API key")
    if key.user_id is None or key.user_id != uow.principal.user_id:
        raise NotFound(f"key: no API key {ref!r} of yours", field="key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(uow, "apikey.revoke", target=key.prefix)
    return key
