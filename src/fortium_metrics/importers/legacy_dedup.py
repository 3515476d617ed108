"""The multiset-max rule of §7.4, online, with its counts on disk.

The k-th copy of a record inside one file is new only if no earlier file held k copies: over all
files a record is kept max-over-files times, whatever the order. That needs, per distinct record,
the most copies any file held so far (`best`) and the copies in the current file (`here`). In
dicts that is about 100 bytes per distinct record: memory would grow with the tree (a million
records, ~100 MB). So both live in a private temporary SQLite file; they are read a block of
records at a time (`prefetch`) and written back after it (`flush`), and memory stays flat.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

_IN = 500  # keys per `IN (...)` (SQLite allows 32,766 variables; smaller statements are cached better)


class MultisetMax:
    def __init__(self) -> None:
        # "": a temporary database file, deleted when closed. The parser runs in the runner's worker
        # threads, one slice after another (never two at once), hence check_same_thread=False.
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        for table in ("best", "here"):
            self._db.execute(f"CREATE TABLE {table} (key BLOB PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
        self._best: dict[bytes, int] = {}  # the block's keys: known counts
        self._here: dict[bytes, int] = {}
        self._changed_best: dict[bytes, int] = {}
        self._changed_here: dict[bytes, int] = {}

    def start_file(self) -> None:
        self._db.execute("DELETE FROM here")

    def prefetch(self, keys: Iterable[bytes]) -> None:
        """Load the counts of the keys of the next block of records."""
        wanted = list(dict.fromkeys(keys))
        for table, known in (("best", self._best), ("here", self._here)):
            for start in range(0, len(wanted), _IN):
                part = wanted[start:start + _IN]
                known.update(self._db.execute(
                    f"SELECT key, n FROM {table} WHERE key IN ({','.join('?' * len(part))})", part))

    def admit(self, key: bytes) -> int | None:
        """The occurrence index to import this copy under, or None for a duplicate. The key must
        have been prefetched since the last flush."""
        seen = self._here.get(key, 0)
        self._here[key] = self._changed_here[key] = seen + 1
        if seen < self._best.get(key, 0):
            return None
        self._best[key] = self._changed_best[key] = seen + 1
        return seen

    def flush(self) -> None:
        """Write the block's new counts back and forget the block."""
        for table, changed in (("best", self._changed_best), ("here", self._changed_here)):
            if changed:
                self._db.executemany(f"INSERT OR REPLACE INTO {table} (key, n) VALUES (?, ?)", changed.items())
        self._best, self._here, self._changed_best, self._changed_here = {}, {}, {}, {}

    def close(self) -> None:
        self._db.close()
