"""The `invitations` table (revision 0011): a one-time sign-up link sent by e-mail. Only a
SHA-256 of the link's token is kept (like API keys: 256 random bits need no slow hash)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, PrimaryKeyConstraint, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, TenantScoped, new_id
from .types import UTCDateTime, utcnow


class Invitation(TenantScoped, Base):
    __tablename__ = "invitations"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default="developer")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        Index("ix_invitations_email", "organization_id", "email"),
    )
