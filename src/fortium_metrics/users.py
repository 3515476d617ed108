"""Users of an organisation."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from . import audit, validation
from .errors import Conflict, NotFound
from .principal import ROLES
from .store.models import User
from .store.uow import UnitOfWork


async def create_user(uow: UnitOfWork, email: str, name: str = "", role: str = "developer",
                      external_id: str | None = None) -> User:
    email = validation.email(email)
    role = validation.one_of(role, ROLES, "role")
    if await uow.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"email: a user with e-mail {email!r} already exists in this organisation", field="email")
    user = User(email=email, name=name.strip(), role=role, external_id=external_id, active=True)
    uow.session.add(user)
    await uow.session.flush()
    audit.record(uow, "user.create", target=email, role=role)
    return user


async def list_users(uow: UnitOfWork) -> list[User]:
    return list(await uow.session.scalars(select(User).order_by(User.email)))


async def get_user(uow: UnitOfWork, ref: str | uuid.UUID) -> User:
    """By id or e-mail, inside the caller's organisation (another organisation's user is NotFound)."""
    condition = User.email == str(ref).lower()
    try:
        condition = User.id == uuid.UUID(str(ref))
    except ValueError:
        pass
    user = await uow.session.scalar(select(User).where(condition))
    if user is None:
        raise NotFound(f"user: no user {str(ref)!r} in this organisation", field="user")
    return user
