"""The `dashboards` table (migration 0009). A row is one person's saved layout; publishing it
makes the same row the default of a team or of the organisation, so its owner keeps editing it
(within the publishing rules of permissions.py)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, PrimaryKeyConstraint, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, TenantScoped, new_id
from ..store.types import JSONType, UTCDateTime, utcnow

TEAM, ORGANIZATION = "team", "organization"  # where a layout is published


class Dashboard(TenantScoped, Base):
    __tablename__ = "dashboards"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    widgets: Mapped[list] = mapped_column(JSONType, default=list)  # dashboards/layout.py: Widget
    published_to: Mapped[str | None] = mapped_column(String(16))  # None (personal), team, organization
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the team it is the default of
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(["organization_id", "owner_id"], ["users.organization_id", "users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["organization_id", "team_id"], ["teams.organization_id", "teams.id"]),
        Index("ix_dashboards_owner", "organization_id", "owner_id"),
        Index("ix_dashboards_published", "organization_id", "published_to", "team_id"),
    )
