"""Who is acting. Produced only by auth.py (keys, tokens) and by operator commands (system)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

ROLES = ("admin", "manager", "developer")
SCOPES = ("ingest", "read", "admin")


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID | None
    user_id: uuid.UUID | None = None
    role: str = "developer"
    scopes: frozenset[str] = field(default_factory=frozenset)
    kind: str = "user"  # user | api_key | system
    label: str = ""  # for the audit log: an e-mail, a key prefix, "cli"

    @classmethod
    def system(cls, label: str = "system") -> "Principal":
        """Cross-organisation access for operator commands and the key resolver, never for requests."""
        return cls(organization_id=None, role="admin", scopes=frozenset(SCOPES), kind="system", label=label)

    @classmethod
    def org_admin(cls, organization_id: uuid.UUID, label: str = "cli") -> "Principal":
        """An operator acting inside one organisation (CLI commands given --org)."""
        return cls(organization_id=organization_id, role="admin", scopes=frozenset(SCOPES), kind="system", label=label)

    @property
    def is_system(self) -> bool:
        return self.kind == "system" and self.organization_id is None
