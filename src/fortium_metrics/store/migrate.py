"""Run the Alembic migrations from code (CLI, tests, `serve` on a fresh SQLite file)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from .engine import ensure_sqlite_dir, sync_url

# src layout: <repo>/src/fortium_metrics/store/migrate.py -> <repo>/migrations
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(admin_url: str, app_role: str = "fortium_app") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", admin_url.replace("%", "%%"))
    config.attributes["app_role"] = app_role
    return config


def upgrade(admin_url: str, revision: str = "head", app_role: str = "fortium_app") -> None:
    command.upgrade(alembic_config(admin_url, app_role), revision)


def downgrade(admin_url: str, revision: str, app_role: str = "fortium_app") -> None:
    command.downgrade(alembic_config(admin_url, app_role), revision)


def current_revision(url: str) -> str | None:
    url = sync_url(url)
    ensure_sqlite_dir(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}
