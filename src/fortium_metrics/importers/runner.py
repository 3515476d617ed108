"""Runs a parser into a sink (the local store, or a remote server's REST API), file by file.

Idempotent: events carry deterministic ids, so a second run adds nothing. Resumable: a file is
marked done only after all its events are stored; a re-run skips done files whose fingerprint is
unchanged, and re-sends the interrupted file (dedup drops what already landed).
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from collections.abc import AsyncIterator, Iterator
from itertools import islice
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import imports, users
from ..context import AppContext
from ..ingest import IngestResult, record_events
from ..principal import Principal
from .base import Parsed, Parser, ParseStats, RecordError, fingerprint

CHUNK = 5000  # ingest.MAX_BATCH: fewer, larger transactions


@dataclass
class ImportReport:
    importer: str
    files: int = 0
    skipped_files: int = 0
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RecordError] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "errors"}
        data["errors"] = [e.__dict__ for e in self.errors]
        return data


class Sink(Protocol):
    async def finished(self, importer: str) -> dict[str, str]: ...
    async def send(self, events: list[dict]) -> IngestResult: ...
    async def files_done(self, importer: str, files: list[tuple[str, str, dict[str, int]]]) -> None: ...
    async def identities(self, importer: str, identities: list[str], user: str) -> None: ...
    async def shareable(self) -> tuple[Any, Principal] | None: ...


class LocalSink:
    """Straight into a store through the ingestion service, as an operator of one organisation."""

    def __init__(self, ctx: AppContext, principal: Principal) -> None:
        self.ctx, self.principal = ctx, principal

    async def finished(self, importer: str) -> dict[str, str]:
        async with self.ctx.store.unit_of_work(self.principal) as uow:
            return await imports.finished_sources(uow, importer)

    async def send(self, events: list[dict]) -> IngestResult:
        return await record_events(self.ctx.ingestor, self.principal, events, source="import")

    async def shareable(self) -> tuple[Any, Principal]:
        """What a worker process needs to write into the same store (settings, principal)."""
        return self.ctx.settings, self.principal

    async def files_done(self, importer: str, files: list[tuple[str, str, dict[str, int]]]) -> None:
        async with self.ctx.store.unit_of_work(self.principal) as uow:  # one transaction per chunk
            for start in range(0, len(files), 500):  # IN (...) lists of a sane size
                await imports.record_files(uow, importer, files[start:start + 500])

    async def identities(self, importer: str, identities: list[str], user: str) -> None:
        async with self.ctx.store.unit_of_work(self.principal) as uow:
            central = await users.get_user(uow, user)
            await imports.map_identities(uow, importer, identities, central.id)


class RemoteSink:
    """Uploads to a server's `POST /api/v1/metrics/batch`; keeps its resume state in a local file
    (the server records the events; the bookkeeping stays with the laptop that ran the import)."""

    def __init__(self, api_url: str, api_key: str, state_file: Path) -> None:
        self.client = httpx.AsyncClient(base_url=api_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=60)
        self.state_file = state_file
        self.state = json.loads(state_file.read_text()) if state_file.exists() else {}

    async def finished(self, importer: str) -> dict[str, str]:
        return self.state.get(importer, {})

    async def send(self, events: list[dict]) -> IngestResult:
        response = await self.client.post("/api/v1/metrics/batch", json={"events": events})
        if response.status_code != 200:
            raise RuntimeError(f"upload failed: HTTP {response.status_code}: {response.text[:300]}")
        return IngestResult.model_validate(response.json())

    async def files_done(self, importer: str, files: list[tuple[str, str, dict[str, int]]]) -> None:
        for source, fp, _counts in files:
            self.state.setdefault(importer, {})[source] = fp
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.state_file)

    async def identities(self, importer: str, identities: list[str], user: str) -> None:
        return None  # the server maps the key's user; nothing to record remotely

    async def shareable(self) -> None:
        return None  # uploads stay in one process: the server parallelises

    async def aclose(self) -> None:
        await self.client.aclose()


async def run_import(parser: Parser, paths: list[Path], sink: Sink, *, user: str | None = None,
                     dry_run: bool = False, show_progress: bool = True, console: Console | None = None,
                     workers: int = 1) -> ImportReport:
    """`workers` > 1 spreads the files over that many processes when the parser can split its
    files into independent groups (`partition`) and the sink is a local store."""
    files = parser.discover(paths)
    done = await sink.finished(parser.name)
    prints = {str(f): fingerprint(f) for f in files}
    todo = [f for f in files if done.get(str(f)) != prints[str(f)]]
    report = ImportReport(parser.name, files=len(files), skipped_files=len(files) - len(todo), dry_run=dry_run)
    shared = await sink.shareable() if workers > 1 and hasattr(parser, "partition") and not dry_run else None
    if shared is not None:
        stats = await _import_in_processes(parser, todo, shared, report, user, workers, show_progress, console)
    else:
        stats = await _import_files(parser, todo, sink, report, prints, user, dry_run, show_progress, console)
    report.read = stats.records_read
    report.counters = stats.counters
    target = user or stats.preferred_email
    if stats.identities and target and not dry_run:
        await sink.identities(parser.name, stats.identities, target)
    return report


def _progress(name: str, show: bool, console: Console | None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[events]} events"), TimeElapsedColumn(),
                    console=console or Console(stderr=True), disable=not show, transient=False)


async def _import_files(parser: Parser, todo: list[Path], sink: Sink, report: ImportReport, prints: dict[str, str],
                        user: str | None, dry_run: bool, show_progress: bool, console: Console | None) -> ParseStats:
    stats = ParseStats()
    batcher = _Batcher(parser.name, sink, report, prints, user or None, dry_run, stats)
    with _progress(f"import {parser.name}", show_progress, console) as progress:
        task = progress.add_task(f"import {parser.name}", total=len(todo), events=0)
        current: str | None = None
        try:
            async for item in _in_thread(parser.parse(todo, stats)):
                if item.source != current:
                    await batcher.file_parsed(current)
                    current = item.source
                    progress.update(task, completed=batcher.files_parsed, events=report.imported + report.duplicates)
                await batcher.add(item)
        except BaseException:
            # Interrupted (Ctrl-C, a crash): keep what was read. Files read completely are marked
            # done; the file in progress is not, and the next run re-sends it (dedup drops repeats).
            await batcher.drain()
            raise
        await batcher.file_parsed(current)
        # Files that yielded nothing (all duplicates, nothing to import) are finished too.
        for quiet in todo:
            if str(quiet) not in batcher.seen_files:
                await batcher.file_parsed(str(quiet))
        await batcher.drain()
        progress.update(task, completed=len(todo), events=report.imported + report.duplicates)
    return stats


async def _import_in_processes(parser, todo: list[Path], shared: tuple[Any, Principal], report: ImportReport,
                               user: str | None, workers: int, show_progress: bool, console: Console | None) -> ParseStats:
    """One process per group of files (each with its own engine): the per-event work is CPU-bound,
    so this is what uses more than one core. Reports and counters are summed afterwards."""
    groups = [group for group in parser.partition(todo, workers) if group]
    merged = ParseStats()
    if not groups:  # everything was imported before
        return merged
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn")) as pool, \
            _progress(f"import {parser.name} ({len(groups)} processes)", show_progress, console) as progress:
        task = progress.add_task("import", total=len(todo), events=0)
        jobs = [loop.run_in_executor(pool, _worker, parser, group, *shared, user) for group in groups]
        for finished in asyncio.as_completed(jobs):
            part, stats = await finished
            for name in ("imported", "duplicates", "rejected"):
                setattr(report, name, getattr(report, name) + getattr(part, name))
            report.errors += part.errors
            merged.records_read += stats.records_read
            for key, value in stats.counters.items():
                merged.bump(key, value)
            merged.identities += [i for i in stats.identities if i not in merged.identities]
            merged.preferred_email = merged.preferred_email or stats.preferred_email
            progress.update(task, advance=part.files, events=report.imported + report.duplicates)
    return merged


def _worker(parser, files: list[Path], settings, principal: Principal, user: str | None) -> tuple[ImportReport, ParseStats]:
    """Runs in a child process: a whole import of `files` into the same store."""
    async def run() -> tuple[ImportReport, ParseStats]:
        ctx = AppContext.build(settings)
        try:
            report = ImportReport(parser.name, files=len(files))
            prints = {str(f): fingerprint(f) for f in files}
            stats = await _import_files(parser, files, LocalSink(ctx, principal), report, prints, user, False, False, None)
            return report, stats
        finally:
            await ctx.close()

    return asyncio.run(run())


async def _in_thread(items: Iterator[Parsed], slice_size: int = 2000) -> AsyncIterator[Parsed]:
    """Run the parser in a worker thread, a slice at a time, so the event loop stays free to store
    the previous chunk meanwhile (the database work overlaps the parsing)."""
    def take() -> tuple[list[Parsed], BaseException | None]:
        taken: list[Parsed] = []
        try:
            taken.extend(islice(items, slice_size))
        except BaseException as error:  # noqa: BLE001 — handed back, raised after the items read
            return taken, error
        return taken, None

    while True:
        batch, error = await asyncio.to_thread(take)
        for item in batch:
            yield item
        if error is not None:
            raise error
        if not batch:
            return


class _Batcher:
    """Buffers events across files and sends them in chunks; a file is marked done (in one
    transaction per chunk) only once every event it yielded is stored. While a chunk is being
    written, the parser already reads the next one."""

    def __init__(self, importer: str, sink: Sink, report: ImportReport, prints: dict[str, str],
                 user: str | None, dry_run: bool, stats: ParseStats) -> None:
        self.importer, self.sink, self.report, self.prints = importer, sink, report, prints
        self.user, self.dry_run, self.stats = user, dry_run, stats
        self.events: list[dict] = []
        self.sources: list[str] = []  # the file of each buffered event
        self.counts: dict[str, dict[str, int]] = {}
        self.parsed: list[str] = []  # files fully read whose events are in the buffer
        self.inflight: asyncio.Task | None = None
        self.seen_files: set[str] = set()
        self.files_parsed = 0

    def _counts(self, source: str) -> dict[str, int]:
        return self.counts.setdefault(source, {"read": 0, "imported": 0, "duplicates": 0, "rejected": 0})

    async def add(self, item: Parsed) -> None:
        self.seen_files.add(item.source)
        counts = self._counts(item.source)
        counts["read"] += 1
        if item.error is not None:
            self.report.errors.append(item.error)
            self.report.rejected += 1
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

    async def file_parsed(self, source: str | None) -> None:
        if source is not None:
            self.seen_files.add(source)
            self._counts(source)
            self.parsed.append(source)
            self.files_parsed += 1

    async def drain(self) -> None:
        await self._dispatch()
        await self._wait()

    async def _dispatch(self) -> None:
        events, sources, finished = self.events, self.sources, self.parsed
        self.events, self.sources, self.parsed = [], [], []
        await self._wait()  # one chunk in flight at a time: order kept, memory bounded
        self.inflight = asyncio.create_task(self._store(events, sources, finished))

    async def _wait(self) -> None:
        if self.inflight is not None:
            task, self.inflight = self.inflight, None
            await task

    async def _store(self, events: list[dict], sources: list[str], finished: list[str]) -> None:
        if events:
            await self._send(events, sources)
        if finished and not self.dry_run:
            await self.sink.files_done(self.importer, [(f, self.prints.get(f, ""), self.counts.pop(f, {}))
                                                       for f in finished if f in self.prints])

    async def _send(self, events: list[dict], sources: list[str]) -> None:
        if self.dry_run:
            self.report.imported += len(events)
            for source in sources:
                self._counts(source)["imported"] += 1
            return
        result = await self.sink.send(events)
        self.report.imported += result.accepted
        self.report.duplicates += result.duplicates
        self.report.rejected += result.rejected
        rejected = {e.index for e in result.errors}
        duplicates = set(result.duplicate_indexes)
        for error in result.errors:
            self.report.errors.append(RecordError(sources[error.index], None, error.message))
        for index, source in enumerate(sources):
            outcome = "rejected" if index in rejected else "duplicates" if index in duplicates else "imported"
            self._counts(source)[outcome] += 1
