"""Where an import's CPU goes, in one process (`--workers 1`) into a fresh SQLite file: the parser
thread, the event loop thread (validation, rows, the runner) and the other threads (aiosqlite's,
where SQLite itself runs), from `time.thread_time`/`time.process_time` — CPU, so a busy shared
machine changes it far less than wall time. Compare with the baseline's CPU in bench_import.py.

    .venv/bin/python bench/bench_import_cpu.py transcripts <a tree, e.g. a part of bench_import's>
    .venv/bin/python bench/bench_import_cpu.py legacy <a home>
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from fortium_metrics import orgs, users
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.importers import runner
from fortium_metrics.importers.legacy import LegacyParser
from fortium_metrics.importers.transcripts import TranscriptParser
from fortium_metrics.principal import Principal
from fortium_metrics.store import migrate

parser_cpu = [0.0]
_in_thread = runner._in_thread


async def _timed_in_thread(items, slice_size=2000):
    def timed():
        began = time.thread_time()  # the generator runs in the runner's worker thread
        try:
            for item in items:
                began_item = time.thread_time()
                parser_cpu[0] += began_item - began
                yield item
                began = time.thread_time()
        finally:
            parser_cpu[0] += time.thread_time() - began
    async for batch in _in_thread(timed(), slice_size):
        yield batch


async def main(importer: str, path: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fortium-bench-cpu-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    ctx = AppContext.build(load_settings(database_url=url, data_dir=tmp / "data"))
    try:
        async with ctx.store.unit_of_work(Principal.system("bench")) as uow:
            org = await orgs.create_organization(uow, "Bench", f"bench-{uuid.uuid4().hex[:8]}")
        async with ctx.store.unit_of_work(Principal.org_admin(org.id)) as uow:
            await users.create_user(uow, "bench@example.test", "Bench", "developer")
        parser = TranscriptParser(home=path) if importer == "transcripts" else LegacyParser(home=path)
        runner._in_thread = _timed_in_thread
        wall, process, loop = time.perf_counter(), time.process_time(), time.thread_time()
        report = await runner.run_import(parser, [path], runner.LocalSink(ctx, Principal.org_admin(org.id)),
                                         user="bench@example.test", show_progress=False, workers=1)
        wall, process, loop = time.perf_counter() - wall, time.process_time() - process, time.thread_time() - loop
    finally:
        await ctx.close()
    events, records = report.events_imported, report.records_read
    other = process - loop - parser_cpu[0]
    print(f"{records:,} records -> {events:,} events in {wall:.1f} s; CPU {process:.1f} s: parser thread "
          f"{parser_cpu[0]:.1f} s ({parser_cpu[0] / records * 1e6:.0f} µs a record), event loop {loop:.1f} s "
          f"({loop / events * 1e6:.0f} µs an event), other threads (SQLite) {other:.1f} s "
          f"({other / events * 1e6:.0f} µs an event)")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("importer", choices=("transcripts", "legacy"))
    args.add_argument("path", type=Path)
    parsed = args.parse_args()
    asyncio.run(main(parsed.importer, parsed.path))
