"""JWT access tokens (PyJWT). Algorithm pinned to HS256; issuer and audience checked; a `kid`
header selects the key, so the secret can rotate: tokens signed with a previous key
(FORTIUM_PREVIOUS_SECRET_KEYS) stay valid until they expire.

Claims: sub (user id), org, role, exp, iat, jti, iss, aud, and sid — the refresh-token family the
token belongs to, so signing out (revoking the family) ends its access tokens at once.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

from .config import Settings
from .errors import Unauthorized

ALGORITHM = "HS256"
REQUIRED = ["exp", "iat", "jti", "sub", "org", "role", "iss", "aud", "sid"]


def _derive(secret: str) -> bytes:
    # The configured secret also serves other purposes; the JWT key is derived from it.
    return hmac.new(secret.encode(), b"fortium-metrics jwt v1", hashlib.sha256).digest()


def _kid(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True)
class TokenKeys:
    signing: bytes
    verifying: dict[str, bytes]  # kid -> key, the current one included
    issuer: str
    audience: str
    access_ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenKeys":
        current = _derive(settings.secret_key.get_secret_value())
        keys = {_kid(current): current}
        for old in settings.previous_secret_keys:
            key = _derive(old.get_secret_value())
            keys[_kid(key)] = key
        return cls(current, keys, settings.jwt_issuer, settings.jwt_audience,
                   timedelta(minutes=settings.access_token_minutes))

    def issue(self, user_id: uuid.UUID, org_id: uuid.UUID, role: str, family_id: uuid.UUID,
              now: datetime | None = None) -> tuple[str, datetime]:
        now = now or datetime.now(timezone.utc)
        expires = now + self.access_ttl
        claims = {"sub": str(user_id), "org": str(org_id), "role": role, "sid": str(family_id),
                  "iat": int(now.timestamp()), "exp": int(expires.timestamp()), "jti": uuid.uuid4().hex,
                  "iss": self.issuer, "aud": self.audience}
        token = jwt.encode(claims, self.signing, algorithm=ALGORITHM, headers={"kid": _kid(self.signing)})
        return token, expires

    def decode(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed access token") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("access token uses an algorithm this service does not accept")
        key = self.verifying.get(header.get("kid", ""))
        if key is None:
            raise Unauthorized("access token signed with an unknown key")
        try:
            return jwt.decode(token, key, algorithms=[ALGORITHM], audience=self.audience, issuer=self.issuer,
                              options={"require": REQUIRED})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired; refresh it") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("access token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("access token from another issuer") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid access token ({type(error).__name__})") from None
