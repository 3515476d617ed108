"""A durable FIFO of event batches not delivered yet: the forwarder's (data_dir/spool) and the
command hook's (data_dir/hook-spool).

Files in one directory:
* `spool.jsonl`   one JSON array (a batch) per line, appended and fsync'd before a tool answers
                  "queued", so an acknowledged event survives a crash or a reboot;
* `spool.offset`  bytes of spool.jsonl already delivered, replaced atomically (write, fsync, rename);
* `spool.rejected.jsonl`  batches the server refused as invalid (kept for a person to inspect);
* `spool.lock`    serialises every process sharing the directory (two Claude Code windows), so the
                  spool is delivered once and in order. It is held only while the files change,
                  never across a delivery, by the hook and its delivery process (hook_drain.py).

A crash between delivering a batch and recording the offset re-sends that batch on the next
flush; each event carries a client `event_id`, so the server stores it once.
"""
from __future__ import annotations

import contextlib
import json
import os

try:
    import fcntl
except ImportError:  # Windows: one process per data directory is then the user's to ensure
    fcntl = None

# Standard library only, and asyncio and logging only where used: `fortium-metrics hook` appends
# to a spool on every Claude Code tool call (tests/test_hook_startup.py checks its imports).
LOCK_POLL_SECONDS = 0.02


def _fsync_dir(directory: str) -> None:
    """Make a new file's directory entry durable too (POSIX; Windows cannot open directories)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, "spool.jsonl")
        self.offset_path = os.path.join(self.directory, "spool.offset")
        self.rejected_path = os.path.join(self.directory, "spool.rejected.jsonl")
        self._lock = None  # an asyncio.Lock, made on first async use

    @contextlib.asynccontextmanager
    async def locked(self):
        """Exclusive use, in this process (asyncio) and across processes (flock on spool.lock).
        The flock is polled rather than awaited in a thread, so a cancelled caller never leaves a
        thread behind that later takes the lock and keeps it."""
        import asyncio

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            fd = self._open_lock()
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

    @contextlib.contextmanager
    def hold(self):
        """locked() for synchronous code (the command hook and its delivery process): blocks until
        the other processes sharing the directory let go."""
        fd = self._open_lock()
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _open_lock(self) -> int:
        os.makedirs(self.directory, exist_ok=True)
        return os.open(os.path.join(self.directory, "spool.lock"), os.O_RDWR | os.O_CREAT, 0o600)

    def has_pending(self) -> bool:
        """Cheap (two system calls, no lock): is anything appended beyond what was delivered?"""
        try:
            return os.path.getsize(self.path) > self._offset()
        except OSError:
            return False

    # -- all below: call while holding locked() or hold() ---------------------------------------
    def append(self, batch: list[dict]) -> None:
        line = json.dumps(batch, separators=(",", ":")).encode() + b"\n"
        created = not os.path.exists(self.path)
        with open(self.path, "ab") as handle:
            if handle.tell() and not self._ends_with_newline():
                handle.write(b"\n")  # a torn last line from a crash must not swallow this batch
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            _fsync_dir(self.directory)

    def head(self) -> tuple[list[dict], int] | None:
        """The oldest undelivered batch and the offset just after it, or None when empty."""
        offset = self._offset()
        if not os.path.exists(self.path):
            return None
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            while line := handle.readline():
                end = handle.tell()
                try:
                    return json.loads(line), end
                except json.JSONDecodeError:  # torn by a crash mid-append: never acknowledged
                    import logging

                    logging.getLogger(__name__).warning("spool: skipping an unreadable line at byte %d", offset)
                    self.advance(end)
                    offset = end
        return None

    def advance(self, offset: int) -> None:
        """Mark everything before `offset` delivered; an emptied spool is truncated."""
        if os.path.exists(self.path) and offset >= os.path.getsize(self.path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.offset_path)  # first: a crash in between only re-sends
            os.truncate(self.path, 0)
            return
        temporary = self.offset_path[:-len(".offset")] + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(str(offset))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.offset_path)

    def reject(self, batch: list[dict], reason: str) -> None:
        with open(self.rejected_path, "a") as handle:
            handle.write(json.dumps({"reason": reason, "events": batch}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def pending(self) -> int:
        """Batches waiting (reads the file; for status and tests, not the hot path)."""
        if not os.path.exists(self.path):
            return 0
        with open(self.path, "rb") as handle:
            handle.seek(self._offset())
            return sum(1 for line in handle if line.strip())

    def _offset(self) -> int:
        try:
            with open(self.offset_path) as handle:
                return int(handle.read().strip() or 0)
        except FileNotFoundError:
            return 0

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
