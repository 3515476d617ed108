"""Runs a parser into a sink (the local store, or a remote server's REST API), file by file.

Idempotent: events carry deterministic ids, so a second run adds nothing. Resumable: a file is
marked done only after all its events are stored; a re-run skips done files whose fingerprint is
unchanged, and re-sends the interrupted file (dedup drops what already landed). Interruptible:
Ctrl-C stops the reading, the chunks already handed out are stored, finished files are marked,
and the report says `interrupted`.
"""
from __future__ import annotations

import asyncio
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console

from ..ingest import IngestResult
from .base import Parsed, Parser, ParseStats, RecordError, fingerprint
from .progress import ImportProgress
from .sinks import LocalSink, RemoteSink, Sink, StorePool

__all__ = ["ImportReport", "LocalSink", "RemoteSink", "run_import"]

CHUNK = 5000  # ingest.MAX_BATCH: fewer, larger transactions
SMALL_IMPORT = 32 * 2**20  # bytes: below this, starting store processes costs more than it saves
SESSION_TYPES = ("session_start", "session_end")


@dataclass
class ImportReport:
    """What an import did. *Records* are what the files hold (lines, JSON objects); *events* are
    what was stored from them: one record can give several events (a tool call and its code
    change) and several records one event (the streamed chunks of one API request).

    records_read = records_imported + records_duplicates + records_ignored + records_rejected;
    events_imported + events_duplicates + events_rejected = events sent to the store."""

    importer: str
    files: int = 0
    skipped_files: int = 0  # finished by an earlier run and unchanged since: not read again
    empty_files: list[str] = field(default_factory=list)  # 0 bytes: nothing to import
    folders: list[str] = field(default_factory=list)  # data folders found (metrics roots, repo-local data)
    records_read: int = 0
    records_imported: int = 0  # became, or went into, at least one event
    records_duplicates: int = 0  # copies of records read before (e.g. the same file in a backup root)
    records_ignored: int = 0  # hold nothing to import by the format's rules (summary lines, `pre` twins)
    records_rejected: int = 0  # unreadable or invalid; each is in `errors` with its file and line
    events_imported: int = 0  # stored now
    events_duplicates: int = 0  # the store already had them (an earlier run, another source)
    events_rejected: int = 0  # refused by the store's validation; in `errors`
    errors: list[RecordError] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    interrupted: bool = False  # stopped by Ctrl-C: run the same command again to finish

    # Totals under short names, for Python callers.
    @property
    def imported(self) -> int:
        return self.events_imported

    @property
    def duplicates(self) -> int:
        return self.records_duplicates + self.events_duplicates

    @property
    def rejected(self) -> int:
        return self.records_rejected + self.events_rejected

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "errors"}
        data["errors"] = [e.__dict__ for e in self.errors]
        return data


async def run_import(parser: Parser, paths: list[Path], sink: Sink, *, user: str | None = None,
                     dry_run: bool = False, show_progress: bool = True, console: Console | None = None,
                     workers: int | None = 1) -> ImportReport:
    """`workers`: store processes for a local store (None: the machine's cores, but one process
    for a small import). Ctrl-C (a cancelled task) returns the partial report, `interrupted`."""
    files = parser.discover(paths)
    done = await sink.finished(parser.name)
    prints = {str(f): fingerprint(f) for f in files}
    todo = [f for f in files if done.get(str(f)) != prints[str(f)]]
    sizes = {f: f.stat().st_size for f in todo}
    report = ImportReport(parser.name, files=len(files), skipped_files=len(files) - len(todo), dry_run=dry_run,
                          empty_files=[str(f) for f in todo if sizes[f] == 0],
                          folders=list(getattr(parser, "folders", [])))
    pool = await _pool(sink, workers, sum(sizes.values()), dry_run)
    stats = ParseStats()
    try:
        with ImportProgress(parser.name, sum(sizes.values()), show_progress, console) as progress:
            batcher = _Batcher(parser.name, sink, pool, report, prints, user or None, dry_run, stats)
            await _read(parser, todo, batcher, stats, progress)
    finally:
        if pool is not None:
            pool.close()
    _totals(report, stats)
    target = user or stats.preferred_email
    if stats.identities and target and not dry_run and not report.interrupted:
        await sink.identities(parser.name, stats.identities, target)
    return report


async def _pool(sink: Sink, workers: int | None, size: int, dry_run: bool) -> StorePool | None:
    if dry_run or workers == 1 or (workers is None and size < SMALL_IMPORT):
        return None
    shared = await sink.shareable()
    if shared is None:
        return None
    return StorePool(*shared, workers or os.cpu_count() or 1)


async def _read(parser: Parser, todo: list[Path], batcher: "_Batcher", stats: ParseStats,
                progress: ImportProgress) -> None:
    try:
        current: str | None = None
        async for items in _in_thread(parser.parse(todo, stats)):
            for item in items:
                if item.source != current:
                    batcher.file_parsed(current)
                    current = item.source
                await batcher.add(item)
            progress.update(stats, batcher.report.events_imported + batcher.report.events_duplicates)
        batcher.file_parsed(current)
        for quiet in todo:  # files that yielded nothing (all duplicates, empty) are finished too
            if str(quiet) not in batcher.seen_files:
                batcher.file_parsed(str(quiet))
        await batcher.drain()
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C: keep what was read. Files read completely are marked done once their chunks are
        # stored; the file in progress is not, and the next run re-sends it (dedup drops repeats).
        batcher.report.interrupted = True
        _uncancel()
        await batcher.drain()
        return
    progress.finish(stats, batcher.report.events_imported + batcher.report.events_duplicates)


def _uncancel() -> None:
    """The cancellation was Ctrl-C's (asyncio.run cancels the main task once): undo it so the
    draining below can wait, and the command ends with the partial report instead of a traceback."""
    task = asyncio.current_task()
    if task is not None:
        while task.uncancel():
            pass


def _totals(report: ImportReport, stats: ParseStats) -> None:
    report.records_read = stats.records_read
    report.records_duplicates = stats.duplicates
    report.records_ignored = stats.ignored
    report.records_imported = max(0, stats.records_read - stats.duplicates - stats.ignored - report.records_rejected)
    report.counters = stats.counters


async def _in_thread(items: Iterator[Parsed], slice_size: int = 2000) -> AsyncIterator[list[Parsed]]:
    """Run the parser in a worker thread, a slice at a time, so the event loop stays free to store
    the previous chunk meanwhile (the database work overlaps the parsing). Always the same thread:
    slices spread over the default executor's threads would spread the parser's allocations over
    as many malloc arenas, and the process would keep growing."""
    def take() -> tuple[list[Parsed], BaseException | None]:
        taken: list[Parsed] = []
        try:
            taken.extend(islice(items, slice_size))
        except BaseException as error:  # noqa: BLE001 — handed back, raised after the items read
            return taken, error
        return taken, None

    loop = asyncio.get_running_loop()
    thread = ThreadPoolExecutor(1, thread_name_prefix="fortium-import-parser")
    try:
        while True:
            batch, error = await loop.run_in_executor(thread, take)
            if batch:
                yield batch
            if error is not None:
                raise error
            if not batch:
                return
    finally:
        thread.shutdown(wait=False)  # after Ctrl-C it finishes the slice it is reading, then ends


class _Batcher:
    """Buffers events across files and sends them in chunks; a file is marked done (in one
    transaction per chunk) only once every event it yielded is stored. Chunks are stored while the
    parser reads on: one at a time in this process, or one per store process plus one queued.
    Their results are booked in order, so a file is never marked done before an earlier chunk
    holding its events is stored."""

    def __init__(self, importer: str, sink: Sink, pool: StorePool | None, report: ImportReport,
                 prints: dict[str, str], user: str | None, dry_run: bool, stats: ParseStats) -> None:
        self.importer, self.sink, self.pool, self.report, self.prints = importer, sink, pool, report, prints
        self.user, self.dry_run, self.stats = user, dry_run, stats
        self.events: list[dict] = []
        self.sources: list[str] = []  # the file of each buffered event
        self.counts: dict[str, dict[str, int]] = {}
        self.parsed: list[str] = []  # files fully read whose events are in the buffer
        self.inflight: deque[asyncio.Task] = deque()
        self.depth = 1 if pool is None else pool.workers + 1
        self.seen_files: set[str] = set()

    def _counts(self, source: str) -> dict[str, int]:
        return self.counts.setdefault(source, {"read": 0, "imported": 0, "duplicates": 0, "rejected": 0})

    async def add(self, item: Parsed) -> None:
        self.seen_files.add(item.source)
        counts = self._counts(item.source)
        counts["read"] += 1
        if item.error is not None:
            self.report.errors.append(item.error)
            self.report.records_rejected += 1
            counts["rejected"] += 1
            return
        event = item.event
        owner = self.user or self.stats.preferred_email  # the files' own identity profile, if any
        if owner and "user" not in event:
            event = {**event, "user": owner}
        self.events.append(event)
        self.sources.append(item.source)
        if len(self.events) >= CHUNK:
            await self._dispatch()

    def file_parsed(self, source: str | None) -> None:
        if source is not None:
            self.seen_files.add(source)
            self._counts(source)
            self.parsed.append(source)

    async def drain(self) -> None:
        await self._dispatch()
        while self.inflight:
            await self._oldest()

    async def _oldest(self) -> None:
        # Shielded: Ctrl-C cancels the reading, never a chunk being stored (drain waits for it).
        await asyncio.shield(self.inflight[0])
        self.inflight.popleft()

    async def _dispatch(self) -> None:
        events, sources, finished = self.events, self.sources, self.parsed
        self.events, self.sources, self.parsed = [], [], []
        while len(self.inflight) >= self.depth:  # memory bounded; results booked in order
            await self._oldest()
        previous = self.inflight[-1] if self.inflight else None
        self.inflight.append(asyncio.create_task(self._store(previous, events, sources, finished)))

    async def _store(self, previous: asyncio.Task | None, events: list[dict], sources: list[str],
                     finished: list[str]) -> None:
        try:
            outcomes = await self._send(events, previous)
        finally:
            if previous is not None:
                await previous
        for (outcome, message), source in zip(outcomes, sources):
            self._counts(source)[outcome] += 1
            if message is not None:
                self.report.errors.append(RecordError(source, None, message))
        done = [(f, self.prints.get(f, ""), self.counts.pop(f, {})) for f in finished]
        if done and not self.dry_run:
            await self.sink.files_done(self.importer, [file for file in done if file[0] in self.prints])

    async def _send(self, events: list[dict], previous: asyncio.Task | None) -> list[tuple[str, str | None]]:
        """(outcome, error message) per event. With store processes, session starts and ends are
        stored here, after the previous chunk's: two processes creating one session at once would
        collide, and an end must not overtake its start."""
        if self.dry_run or not events:
            self.report.events_imported += len(events)
            return [("imported", None)] * len(events)
        if self.pool is None:
            return self._book(await self.sink.send(events), len(events))
        ordered = [i for i, e in enumerate(events) if e["type"] in SESSION_TYPES]
        rest = [i for i, e in enumerate(events) if e["type"] not in SESSION_TYPES]
        stored = await self.pool.send([events[i] for i in rest]) if rest else IngestResult()
        if previous is not None:
            await asyncio.wait([previous])
        sessions = await self.sink.send([events[i] for i in ordered]) if ordered else IngestResult()
        outcomes: list[tuple[str, str | None]] = [("imported", None)] * len(events)
        for indexes, result in ((rest, stored), (ordered, sessions)):
            for position, outcome in zip(indexes, self._book(result, len(indexes))):
                outcomes[position] = outcome
        return outcomes

    def _book(self, result: IngestResult, count: int) -> list[tuple[str, str | None]]:
        self.report.events_imported += result.accepted
        self.report.events_duplicates += result.duplicates
        self.report.events_rejected += result.rejected
        outcomes: list[tuple[str, str | None]] = [("imported", None)] * count
        for index in result.duplicate_indexes:
            outcomes[index] = ("duplicates", None)
        for error in result.errors:  # an event can have several
            earlier = outcomes[error.index][1]
            outcomes[error.index] = ("rejected", f"{earlier}; {error.message}" if earlier else error.message)
        return outcomes
