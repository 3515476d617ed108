"""Engines for both databases, configured for the service's needs."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .rollup_sql import register_sqlite_functions


# Errors that mean the database cannot be reached or dropped the connection: OperationalError
# covers refused connections, a file SQLite cannot open, a terminated backend and a server
# shutting down; InterfaceError a connection already closed; TimeoutError a pool with no free
# connection in time. The request itself is fine: adapters answer 503 and ask for a retry.
_UNREACHABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, psycopg.OperationalError,
                psycopg.InterfaceError, sqlite3.OperationalError, ConnectionError)


def is_unreachable(error: BaseException) -> bool:
    return isinstance(error, _UNREACHABLE)


def async_url(url: str) -> str:
    """The async driver for a URL given with a plain scheme (sqlite://, postgresql://)."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def sync_url(url: str) -> str:
    """The sync driver (migrations run synchronously)."""
    parsed = make_url(url)
    driver = {"sqlite+aiosqlite": "sqlite", "postgresql": "postgresql+psycopg", "postgresql+asyncpg": "postgresql+psycopg"}
    name = driver.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=name).render_as_string(hide_password=False)


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing on lock.
    # A 64 MiB page cache (default 2 MiB) keeps the dedup index hot: its keys arrive in random
    # order; temporary tables (the ingestion staging) stay in memory.
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "busy_timeout=10000", "foreign_keys=ON", "synchronous=NORMAL",
                   "cache_size=-65536", "temp_store=MEMORY"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # Local time zones and duration buckets for analytics (SQLite has no time zone database).
    register_sqlite_functions(dbapi_connection)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    url = async_url(url)
    ensure_sqlite_dir(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
