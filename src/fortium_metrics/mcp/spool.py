"""A durable FIFO of event batches the forwarder could not deliver yet.

Files in one directory (data_dir/spool):
* `spool.jsonl`   one JSON array (a batch) per line, appended and fsync'd before a tool answers
                  "queued", so an acknowledged event survives a crash or a reboot;
* `spool.offset`  bytes of spool.jsonl already delivered, replaced atomically (write, fsync, rename);
* `spool.rejected.jsonl`  batches the server refused as invalid (kept for a person to inspect);
* `spool.lock`    serialises every process sharing the directory (two Claude Code windows), so the
                  spool is delivered once and in order.

A crash between delivering a batch and recording the offset re-sends that batch on the next
flush; each event carries a client `event_id`, so the server stores it once.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: one process per data directory is then the user's to ensure
    fcntl = None

logger = logging.getLogger(__name__)
LOCK_POLL_SECONDS = 0.02


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable too (POSIX; Windows cannot open directories)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "spool.jsonl"
        self.offset_path = directory / "spool.offset"
        self.rejected_path = directory / "spool.rejected.jsonl"
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Exclusive use, in this process (asyncio) and across processes (flock on spool.lock).
        The flock is polled rather than awaited in a thread, so a cancelled caller never leaves a
        thread behind that later takes the lock and keeps it."""
        async with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / "spool.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                while fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        await asyncio.sleep(LOCK_POLL_SECONDS)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    # -- all below: call while holding locked() ------------------------------------------------
    def append(self, batch: list[dict[str, Any]]) -> None:
        line = json.dumps(batch, separators=(",", ":")).encode() + b"\n"
        created = not self.path.exists()
        with open(self.path, "ab") as handle:
            if handle.tell() and not self._ends_with_newline():
                handle.write(b"\n")  # a torn last line from a crash must not swallow this batch
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            _fsync_dir(self.directory)

    def head(self) -> tuple[list[dict[str, Any]], int] | None:
        """The oldest undelivered batch and the offset just after it, or None when empty."""
        offset = self._offset()
        if not self.path.exists():
            return None
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            while line := handle.readline():
                end = handle.tell()
                try:
                    return json.loads(line), end
                except json.JSONDecodeError:  # torn by a crash mid-append: never acknowledged
                    logger.warning("spool: skipping an unreadable line at byte %d", offset)
                    self.advance(end)
                    offset = end
        return None

    def advance(self, offset: int) -> None:
        """Mark everything before `offset` delivered; an emptied spool is truncated."""
        if self.path.exists() and offset >= self.path.stat().st_size:
            self.offset_path.unlink(missing_ok=True)  # first: a crash in between only re-sends
            os.truncate(self.path, 0)
            return
        temporary = self.offset_path.with_suffix(".tmp")
        with open(temporary, "w") as handle:
            handle.write(str(offset))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.offset_path)

    def reject(self, batch: list[dict[str, Any]], reason: str) -> None:
        with open(self.rejected_path, "a") as handle:
            handle.write(json.dumps({"reason": reason, "events": batch}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def pending(self) -> int:
        """Batches waiting (reads the file; for status and tests, not the hot path)."""
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as handle:
            handle.seek(self._offset())
            return sum(1 for line in handle if line.strip())

    def _offset(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
