"""What the adapters (REST, MCP, CLI, jobs) share inside one process. Built by factories."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .accounts import Accounts
from .config import Settings
from .ingest import Ingestor
from .jwt_tokens import TokenKeys
from .login_guard import LoginGuard
from .store.engine import create_engine
from .store.uow import Store


@dataclass
class AppContext:
    settings: Settings
    store: Store
    ingestor: Ingestor
    accounts: Accounts

    @classmethod
    def build(cls, settings: Settings, store: Store | None = None) -> "AppContext":
        store = store or Store(create_engine(settings.effective_database_url))
        accounts = Accounts(store, TokenKeys.from_settings(settings), LoginGuard(settings),
                            timedelta(days=settings.refresh_token_days))
        return cls(settings=settings, store=store, ingestor=Ingestor(store, writers=settings.ingest_writers),
                   accounts=accounts)

    async def close(self, dispose_store: bool = True) -> None:
        await self.ingestor.close()
        await self.accounts.guard.aclose()
        if dispose_store:
            await self.store.dispose()
