"""The single-user identity of the embedded (laptop) mode: organisation `local` and its user.

Used by `fortium-metrics mcp` (embedded), `hook` and `import` when no organisation or remote
server is named. The user is the person's git e-mail when there is one, else $USER@localhost.
"""
from __future__ import annotations

import getpass
import subprocess

from sqlalchemy import select

from . import orgs, users
from .errors import NotFound
from .principal import SCOPES, Principal
from .store.models import User
from .store.uow import Store

LOCAL_ORG = "local"


def local_email() -> str:
    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=3).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email.lower() if "@" in email else f"{getpass.getuser()}@localhost"


async def ensure_local_principal(store: Store, email: str | None = None) -> Principal:
    """Create the local organisation and user on first use; return the user's principal."""
    email = (email or local_email()).lower()
    try:
        org_id = await orgs.id_for_slug(store, LOCAL_ORG)
    except NotFound:  # creating an organisation is an operator's job (on PostgreSQL, the owner's)
        async with store.unit_of_work(Principal.system("local")) as uow:
            org_id = (await orgs.create_organization(uow, "Local", LOCAL_ORG)).id
    async with store.unit_of_work(Principal.org_admin(org_id, label="local")) as uow:
        user = await uow.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = await users.create_user(uow, email, email.split("@")[0], "admin")
    return Principal(org_id, user.id, "admin", frozenset(SCOPES), "user", email)
