"""Alembic environment: runs migrations synchronously with the schema owner's URL."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from fortium_metrics.store.engine import ensure_sqlite_dir, sync_url

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from fortium_metrics.config import load_settings

        url = load_settings().effective_admin_database_url
    return sync_url(url)


def run_migrations_online() -> None:
    url = _url()
    ensure_sqlite_dir(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # render_as_batch: SQLite can only ALTER tables by copying them; batch mode does that.
        context.configure(connection=connection, target_metadata=None, render_as_batch=True,
                          transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
