"""Jobs that keep the store in shape. Idempotent: safe to run twice or from two processes."""
from __future__ import annotations

from sqlalchemy import text

from .store.uow import Store


async def ensure_partitions(store: Store, months_ahead: int = 3) -> int:
    """Create the monthly partitions from this month to `months_ahead` ahead; returns how many
    were new. The work is `fortium_ensure_partitions`, a SECURITY DEFINER function of the schema
    owner that the application role may run (jobs need no system scope). SQLite has no
    partitions: nothing to do."""
    if store.dialect != "postgresql":
        return 0
    async with store.engine.begin() as connection:
        return int((await connection.execute(text("SELECT fortium_ensure_partitions(:months)"),
                                             {"months": months_ahead})).scalar_one())
