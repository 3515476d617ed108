"""The only producer of request principals (API keys here; login tokens come later)."""
from __future__ import annotations

import hmac
from datetime import timedelta

from .apikeys import hash_secret, split_token
from .errors import Unauthorized
from .principal import Principal
from .store.key_lookup import find_api_key, touch_api_key
from .store.types import utcnow
from .store.uow import Store

# Writing last_used_at on every request would turn reads into writes; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def principal_for_api_key(store: Store, token: str | None) -> Principal:
    prefix = split_token(token or "")
    if prefix is None:
        raise Unauthorized("missing or malformed API key")
    # The key's organisation is unknown until the key is found: this lookup is the one place a
    # request reads across organisations, by the unique prefix only (store/key_lookup.py).
    key = await find_api_key(store, prefix)
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(token)):
        raise Unauthorized("invalid API key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    # An organisation key (no user) reads like a manager when it may read at all: it serves
    # dashboards and integrations, not one person (see permissions.py).
    role = "admin" if "admin" in key.scopes else "manager" if "read" in key.scopes else "developer"
    if key.user_id is not None:
        if not key.user_active:
            raise Unauthorized("the user of this API key is deactivated")
        role = key.user_role
    if key.last_used_at is None or utcnow() - key.last_used_at > LAST_USED_RESOLUTION:
        await touch_api_key(store, key, LAST_USED_RESOLUTION)
    return Principal(
        organization_id=key.organization_id, user_id=key.user_id, role=role,
        scopes=frozenset(key.scopes), kind="api_key", label=f"key:{key.prefix}",
    )
