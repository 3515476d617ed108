"""fortium-metrics: how engineering organisations use AI coding agents, and what it does for them."""

__version__ = "0.1.0"


def migrate_if_sqlite(settings) -> None:
    """Zero-config: the embedded SQLite file is created and migrated on first use."""
    if settings.is_sqlite:
        from .store import migrate

        migrate.upgrade(settings.effective_admin_database_url, "head", settings.app_db_role)
