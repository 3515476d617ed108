"""Jobs that keep the store in shape. Idempotent: safe to run twice or from two processes."""
from __future__ import annotations

from sqlalchemy import text

from .errors import Forbidden
from .store.uow import TENANT_CHECKED, UnitOfWork


async def ensure_partitions(uow: UnitOfWork, months_ahead: int = 3) -> int:
    """Create the monthly partitions from this month to `months_ahead` ahead; returns how many
    were new. SQLite has no partitions: nothing to do."""
    if not uow.principal.is_system:
        raise Forbidden("partition maintenance is an operator job")
    if uow.dialect != "postgresql":
        return 0
    result = await uow.session.execute(
        text("SELECT fortium_ensure_partitions(:months)").execution_options(**{TENANT_CHECKED: True}),
        {"months": months_ahead},
    )
    return int(result.scalar_one())
