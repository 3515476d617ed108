"""Where an import's events go: a local store (`LocalSink`), a server's REST API (`RemoteSink`),
and, for large local imports, store processes (`StorePool`) that validate and write chunks beside
the parser: validation and ingestion are most of an import's CPU, and one interpreter uses one
core.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from .. import imports, users
from ..context import AppContext
from ..ingest import IngestResult, record_events, record_valid_events
from ..principal import Principal
from ..web.api import parse_valid_batch  # the REST batch endpoint's fast path, shared


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
        """What a store process needs to write into the same store (settings, principal)."""
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
        tmp.write_text(json.dumps(self.state, indent=1, default=str))
        tmp.replace(self.state_file)

    async def identities(self, importer: str, identities: list[str], user: str) -> None:
        return None  # the server maps the key's user; nothing to record remotely

    async def shareable(self) -> None:
        return None  # uploads stay in one process: the server parallelises

    async def aclose(self) -> None:
        await self.client.aclose()


class StorePool:
    """`workers` processes, each with its own engine and ingestor, storing chunks of events.

    They ignore SIGINT: on Ctrl-C the parent stops reading, waits for the chunks already handed
    out (a second or so), records which files are finished, and reports; nothing is cut off in
    the middle of a transaction and no process prints a traceback."""

    def __init__(self, settings: Any, principal: Principal, workers: int) -> None:
        self.workers = workers
        # The processes are started now, with SIGINT ignored: an ignored signal stays ignored
        # across exec, and Python then installs no KeyboardInterrupt handler, so a Ctrl-C while a
        # process is still importing modules cannot kill it with a traceback either.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker, initargs=(settings, principal))
            for _ in range(workers):  # a spawn-context pool starts one process per submit while none is idle
                self._pool.submit(int)
        finally:
            signal.signal(signal.SIGINT, previous)

    async def send(self, events: list[dict]) -> IngestResult:
        try:  # JSON bytes: cheaper to send than pickled dicts, and validated from the bytes there
            payload: bytes | list[dict] = orjson.dumps({"events": events})
        except TypeError:  # what orjson cannot write (integers beyond 64 bits, lone surrogates)
            payload = events
        return await asyncio.get_running_loop().run_in_executor(self._pool, _store_chunk, payload)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_worker: tuple[asyncio.AbstractEventLoop, AppContext, Principal] | None = None


def _start_worker(settings: Any, principal: Principal) -> None:
    """In a store process: one event loop and one application context for its whole life."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    loop = asyncio.new_event_loop()

    async def build() -> AppContext:
        return AppContext.build(settings)

    ctx = loop.run_until_complete(build())
    _worker = (loop, ctx, principal)
    atexit.register(lambda: loop.run_until_complete(ctx.close()))


def _store_chunk(payload: bytes | list[dict]) -> IngestResult:
    """A chunk, validated as the REST batch endpoint validates a body: straight from the bytes by
    pydantic-core when every event is valid and none holds U+0000, else item by item
    (`record_events`, which names each error and replaces U+0000)."""
    assert _worker is not None, "store process not started"
    loop, ctx, principal = _worker
    if isinstance(payload, bytes):
        valid = parse_valid_batch(payload)
        if valid is not None:
            return loop.run_until_complete(record_valid_events(ctx.ingestor, principal, valid, source="import"))
        payload = orjson.loads(payload)["events"]
    return loop.run_until_complete(record_events(ctx.ingestor, principal, payload, source="import"))
