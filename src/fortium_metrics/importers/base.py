"""The contract between a parser (legacy files, transcripts) and the import runner.

A parser reads files and yields `Parsed` items in file order: each is an event dict ready for
`ingest.record_events` (with a deterministic `event_id` or `request_id`, so re-importing counts
nothing twice) or a `RecordError` naming the file and line. It never stores secrets.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..ids import stable_id  # noqa: F401 (parsers import it from here)


@dataclass(frozen=True)
class RecordError:
    source: str
    line: int | None
    reason: str


@dataclass(frozen=True)
class Parsed:
    source: str  # the file the item came from (its migration_status key)
    event: dict[str, Any] | None = None
    error: RecordError | None = None


@dataclass
class ParseStats:
    """Counters a parser fills while it is consumed; shown in the final report.

    Every record read ends as exactly one of: rejected (a `RecordError` yielded), `duplicates`
    (a copy of a record already read: legacy files copied between roots), `ignored` (holds nothing
    to import by the format's rules: a summary line, a `pre` twin) or imported (the rest: it
    became, or went into, at least one event)."""

    records_read: int = 0
    bytes_read: int = 0  # of the files' bytes, for progress (updated as lines are read)
    duplicates: int = 0
    ignored: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    identities: list[str] = field(default_factory=list)  # e.g. "user:jdoe", "email:jane@x", "profile:<uuid>"
    preferred_email: str | None = None  # the identity profile's e-mail, when the files name one

    def bump(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by


class Parser(Protocol):
    name: str  # "legacy" | "transcripts"

    def discover(self, paths: list[Path]) -> list[Path]:
        """The files to read, given paths the user named (or the default roots when empty)."""

    def parse(self, files: list[Path], stats: ParseStats) -> Iterator[Parsed]:
        """Yield events and errors file by file (all of one file before the next)."""


def fingerprint(path: Path) -> str:
    """Changes when the file changes; cheap (size, mtime and the first/last 64 KiB)."""
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    with path.open("rb") as handle:
        digest.update(handle.read(65536))
        if stat.st_size > 65536:
            handle.seek(-65536, 2)
            digest.update(handle.read())
    return digest.hexdigest()[:32]
