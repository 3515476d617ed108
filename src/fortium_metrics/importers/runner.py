"""Runs a parser into a sink (the local store, or a remote server's REST API), file by file.

Idempotent: events carry deterministic ids, so a second run adds nothing. Resumable: a file is
marked done only after all its events are stored; a re-run skips done files whose fingerprint is
unchanged, and re-sends the interrupted file (dedup drops what already landed).
"""
from __future__ import annotations

import json
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

CHUNK = 2000


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
    async def file_done(self, importer: str, source: str, fp: str, counts: dict[str, int]) -> None: ...
    async def identities(self, importer: str, identities: list[str], user: str) -> None: ...


class LocalSink:
    """Straight into a store through the ingestion service, as an operator of one organisation."""

    def __init__(self, ctx: AppContext, principal: Principal) -> None:
        self.ctx, self.principal = ctx, principal

    async def finished(self, importer: str) -> dict[str, str]:
        async with self.ctx.store.unit_of_work(self.principal) as uow:
            return await imports.finished_sources(uow, importer)

    async def send(self, events: list[dict]) -> IngestResult:
        return await record_events(self.ctx.ingestor, self.principal, events, source="import")

    async def file_done(self, importer: str, source: str, fp: str, counts: dict[str, int]) -> None:
        async with self.ctx.store.unit_of_work(self.principal) as uow:
            await imports.record_file(uow, importer, source, fp, done=True, **counts)

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

    async def file_done(self, importer: str, source: str, fp: str, counts: dict[str, int]) -> None:
        self.state.setdefault(importer, {})[source] = fp
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.state_file)

    async def identities(self, importer: str, identities: list[str], user: str) -> None:
        return None  # the server maps the key's user; nothing to record remotely

    async def aclose(self) -> None:
        await self.client.aclose()


async def run_import(parser: Parser, paths: list[Path], sink: Sink, *, user: str | None = None,
                     dry_run: bool = False, show_progress: bool = True, console: Console | None = None) -> ImportReport:
    files = parser.discover(paths)
    done = await sink.finished(parser.name)
    prints = {f: fingerprint(f) for f in files}
    todo = [f for f in files if done.get(str(f)) != prints[f]]
    report = ImportReport(parser.name, files=len(files), skipped_files=len(files) - len(todo), dry_run=dry_run)
    stats = ParseStats()
    runner = _FileBatcher(parser.name, sink, report, prints, user or None, dry_run, stats)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[events]} events"), TimeElapsedColumn(),
                        console=console or Console(stderr=True), disable=not show_progress, transient=False)
    with progress:
        task = progress.add_task(f"import {parser.name}", total=len(todo), events=0)
        for item in parser.parse(todo, stats):
            if item.source != runner.current:
                await runner.finish_file()
                runner.current = item.source
                progress.update(task, completed=len(runner.finished_files))
            await runner.add(item)
            progress.update(task, events=report.imported + report.duplicates + len(runner.buffer))
        await runner.finish_file()
        for quiet in todo:  # files that yielded nothing (all duplicates, nothing to import)
            if str(quiet) not in runner.finished_files and not dry_run:
                await sink.file_done(parser.name, str(quiet), prints[quiet], _FileBatcher._zero())
        progress.update(task, completed=len(todo))
    report.read = stats.records_read
    report.counters = stats.counters
    target = user or stats.preferred_email
    if stats.identities and target and not dry_run:
        await sink.identities(parser.name, stats.identities, target)
    return report


class _FileBatcher:
    """Buffers events of the current file, flushes in chunks, marks files done once flushed."""

    def __init__(self, importer: str, sink: Sink, report: ImportReport, prints: dict[Path, str],
                 user: str | None, dry_run: bool, stats: ParseStats) -> None:
        self.importer, self.sink, self.report, self.user, self.dry_run = importer, sink, report, user, dry_run
        self.stats = stats
        self.prints = {str(k): v for k, v in prints.items()}
        self.current: str | None = None
        self.buffer: list[dict] = []
        self.counts = self._zero()
        self.finished_files: list[str] = []

    @staticmethod
    def _zero() -> dict[str, int]:
        return {"read": 0, "imported": 0, "duplicates": 0, "rejected": 0}

    async def add(self, item: Parsed) -> None:
        self.counts["read"] += 1
        if item.error is not None:
            self.report.errors.append(item.error)
            self.report.rejected += 1
            self.counts["rejected"] += 1
            return
        event = item.event
        owner = self.user or self.stats.preferred_email  # the files' own identity profile, if any
        if owner and "user" not in event:
            event = {**event, "user": owner}
        self.buffer.append(event)
        if len(self.buffer) >= CHUNK:
            await self.flush()

    async def flush(self) -> None:
        if not self.buffer:
            return
        events, self.buffer = self.buffer, []
        if self.dry_run:
            self.report.imported += len(events)
            self.counts["imported"] += len(events)
            return
        result = await self.sink.send(events)
        self.report.imported += result.accepted
        self.report.duplicates += result.duplicates
        self.report.rejected += result.rejected
        self.report.errors += [RecordError(self.current or "", None, e.message) for e in result.errors]
        for key, value in (("imported", result.accepted), ("duplicates", result.duplicates), ("rejected", result.rejected)):
            self.counts[key] += value

    async def finish_file(self) -> None:
        if self.current is None:
            return
        await self.flush()
        if not self.dry_run and self.current in self.prints:
            await self.sink.file_done(self.importer, self.current, self.prints[self.current], self.counts)
        self.finished_files.append(self.current)
        self.current, self.counts = None, self._zero()
