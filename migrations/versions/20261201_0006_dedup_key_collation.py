"""PostgreSQL only: dedup keys compare byte by byte (COLLATE "C").

Every stored event inserts its key into the primary key of event_keys, and re-sent events are
found by probing it. Under the database's default collation each of those comparisons goes
through the C library's locale-aware strcoll(); "C" compares bytes. Keys are opaque identifiers
(`id:…`, `req:…`, `h:…`), so byte order is all they need. metric_events.dedup_key follows, so
the two still compare with each other (and the ingestion staging table, made from metric_events,
inherits it); it is in no index there, so only event_keys' index is rebuilt.

On SQLite this revision does nothing: text compares byte by byte there already (BINARY).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (("event_keys", "dedup_key"), ("metric_events", "dedup_key"))


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(200) COLLATE {collation}')


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')
