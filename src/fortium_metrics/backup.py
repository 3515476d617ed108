"""Backup and restore of the whole store, and the fingerprint that proves a round trip.

* SQLite: the online backup API (`sqlite3.Connection.backup`): a consistent copy while the
  service keeps running; restore copies a backup file over the database the same way.
* PostgreSQL: `pg_dump --format=custom`; restore replays it (`pg_restore` piped into `psql`) after
  replacing the `public` schema, in ONE transaction, run with FORTIUM_ADMIN_DATABASE_URL. That role must see every row: a superuser or a role with
  BYPASSRLS (tenant tables FORCE row-level security, which pg_dump would otherwise refuse).

`fingerprint(url)` lists every table's row count and a SHA-256 of its rows in primary-key order;
`backup` and `restore` print it with `--verify`, so the two outputs can be compared.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, inspect, pool, select, text
from sqlalchemy.engine import make_url

from .errors import ConfigError, Invalid
from .store import migrate
from .store.engine import sync_url
from .store.models import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ConfigError("FORTIUM_DATABASE_URL: backup needs a SQLite file, not an in-memory database")
    return Path(database).expanduser()


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (it goes in PGPASSWORD, not on a command line others can read)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ConfigError(f"{name} not found on PATH: install the PostgreSQL client tools (same major version "
                          "as the server or newer)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(admin_url: str, target: Path) -> None:
    """Write a backup of the database to `target` (replaced if it exists)."""
    if make_url(admin_url).get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(admin_url))
        partial = target.with_name(target.name + ".partial")
        destination = sqlite3.connect(partial)
        try:
            with destination:
                source.backup(destination)
        finally:
            destination.close()
            source.close()
        partial.replace(target)  # never a half-written file under the final name
        return
    url, env = _libpq(admin_url)
    _run([_tool("pg_dump"), "--format=custom", "--file", str(target), "--dbname", url], env)


def restore(admin_url: str, source: Path) -> None:
    """Replace the database's content with the backup `source` (stop the service first)."""
    if not source.is_file():
        raise Invalid(f"FILE: {source} does not exist", field="FILE")
    with source.open("rb") as handle:
        head = handle.read(16)
    if make_url(admin_url).get_backend_name() == "sqlite":
        if not head.startswith(SQLITE_MAGIC):
            raise Invalid(f"FILE: {source} is not a SQLite backup", field="FILE")
        _check_revision(f"sqlite:///{source}")
        backup_file = sqlite3.connect(source)
        database = sqlite3.connect(_sqlite_path(admin_url))
        try:
            with database:
                backup_file.backup(database)
        finally:
            database.close()
            backup_file.close()
        return
    if not head.startswith(PG_DUMP_MAGIC):
        raise Invalid(f"FILE: {source} is not a pg_dump custom-format backup", field="FILE")
    _restore_postgres(admin_url, source)


# Replaces the schema rather than `pg_restore --clean`, which cannot drop the constraints of
# partitions (inherited from metric_events); all of it one transaction, so a failed restore
# leaves the database as it was.
_REPLACE_SCHEMA = b"DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n"


def _restore_postgres(admin_url: str, source: Path) -> None:
    url, env = _libpq(admin_url)
    # Errors go to files: a pipe nobody reads while the data streams could fill and stall both.
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as psql_errors:
        script = subprocess.Popen([_tool("pg_restore"), "--file=-", str(source)], stdout=subprocess.PIPE,
                                  stderr=script_errors, env=env)
        psql = subprocess.Popen([_tool("psql"), "--quiet", "--no-psqlrc", "--single-transaction", "-v",
                                 "ON_ERROR_STOP=1", "--dbname", url], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=psql_errors, env=env)
        try:
            psql.stdin.write(_REPLACE_SCHEMA)
            shutil.copyfileobj(script.stdout, psql.stdin, 1 << 20)
        except BrokenPipeError:
            pass  # psql stopped at an error: reported below
        finally:
            psql.stdin.close()
            script.stdout.close()
        failed_script, failed_psql = script.wait() != 0, psql.wait() != 0
        # psql first: when it stops at an error, pg_restore dies of the closed pipe.
        for failed, errors, what in ((failed_psql, psql_errors, "restoring failed (nothing was changed)"),
                                     (failed_script, script_errors, "pg_restore failed")):
            if failed:
                errors.seek(0)
                raise ConfigError(f"{what}: {errors.read().decode(errors='replace').strip()[-2000:]}")


def _check_revision(url: str) -> None:
    known = migrate.known_revisions()
    revision = migrate.current_revision(url)
    if revision is not None and revision not in known:
        raise Invalid(f"FILE: made by a newer fortium-metrics (schema {revision}); upgrade this installation first",
                      field="FILE")


def _canonical(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and value[:1] in "{[":
        try:  # SQLite keeps JSON as text, spaced as it was written
            return json.dumps(json.loads(value), sort_keys=True, default=str)
        except ValueError:
            return value
    return repr(value)


def fingerprint(admin_url: str) -> dict[str, tuple[int, str]]:
    """{table: (rows, sha256 of the rows in primary-key order)} for every table of the schema."""
    engine = create_engine(sync_url(admin_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET row_security = off"))  # an error rather than rows silently hidden
            present = set(inspect(connection).get_table_names())
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            result = {"alembic_version": (len(version), hashlib.sha256(",".join(sorted(version)).encode()).hexdigest())}
            for name, table in sorted(Base.metadata.tables.items()):
                if name not in present:
                    continue
                order = list(table.primary_key.columns) or list(table.columns)
                digest = hashlib.sha256()
                rows = 0
                for row in connection.execute(select(table).order_by(*order)).yield_per(2000):
                    digest.update("\x1f".join(_canonical(value) for value in row).encode() + b"\x1e")
                    rows += 1
                result[name] = (rows, digest.hexdigest())
            return result
    finally:
        engine.dispose()
