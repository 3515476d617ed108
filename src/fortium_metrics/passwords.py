"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import Invalid

MIN_LENGTH = 12


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password or "") < MIN_LENGTH:
        raise Invalid(f"password: at least {MIN_LENGTH} characters", field="password")
    if len(password) > 1024:
        raise Invalid("password: at most 1024 characters", field="password")
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: a missing hash is checked against a dummy."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password or "") and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("no user has this password, it only costs the same time")
