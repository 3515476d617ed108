"""What the adapters (REST, MCP, CLI, jobs) share inside one process. Built by factories."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .accounts import Accounts
from .bus import EventBus, build_bus, metric_ingested
from .config import Settings
from .ingest import Ingestor
from .jwt_tokens import TokenKeys
from .login_guard import LoginGuard
from .store.engine import create_engine
from .store.uow import Store


def operator_store(settings: Settings) -> Store:
    """The CLI's store. On PostgreSQL, FORTIUM_ADMIN_DATABASE_URL (the schema owner) serves the
    operator commands that work across organisations (`org create|list|...`, `demo`, rollups
    of every organisation): the application role cannot (revision 0010)."""
    admin = settings.admin_database_url
    admin_engine = create_engine(admin) if admin and not settings.is_sqlite else None
    return Store(create_engine(settings.effective_database_url), admin_engine)


@dataclass
class AppContext:
    settings: Settings
    store: Store
    ingestor: Ingestor
    accounts: Accounts
    bus: EventBus  # live events: published here, heard by the WebSocket hub (web/live.py)

    @classmethod
    def build(cls, settings: Settings, store: Store | None = None) -> "AppContext":
        store = store or Store(create_engine(settings.effective_database_url))
        accounts = Accounts(store, TokenKeys.from_settings(settings), LoginGuard(settings),
                            timedelta(days=settings.refresh_token_days))
        bus = build_bus(settings)
        ingestor = Ingestor(store, writers=settings.ingest_writers,
                            on_commit=lambda org, counts, teams: bus.publish(metric_ingested(org, counts, teams)))
        return cls(settings=settings, store=store, ingestor=ingestor, accounts=accounts, bus=bus)

    async def close(self, dispose_store: bool = True) -> None:
        await self.ingestor.close()
        await self.accounts.guard.aclose()
        await self.bus.close()
        if dispose_store:
            await self.store.dispose()
