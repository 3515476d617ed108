"""The import runner: idempotent, resumable, reports per file; independent of any real format."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fortium_metrics import imports
from fortium_metrics.importers.base import Parsed, ParseStats, RecordError, stable_id
from fortium_metrics.importers.runner import run_import
from fortium_metrics.store.models import LocalDataMapping, MetricEvent

pytestmark = pytest.mark.anyio


class JsonLinesParser:
    """Each line {"tool": name, "ts": iso} is a tool execution; anything else is rejected."""

    name = "test"

    def __init__(self, explode_at: int | None = None) -> None:
        self.explode_at = explode_at
        self.seen = 0

    def discover(self, paths: list[Path]) -> list[Path]:
        return sorted(p for root in paths for p in root.glob("*.jsonl"))

    def parse(self, files, stats: ParseStats):
        stats.identities.append("user:jdoe")
        for path in files:
            for number, line in enumerate(path.read_text().splitlines(), 1):
                stats.records_read += 1
                self.seen += 1
                if self.explode_at and self.seen == self.explode_at:
                    raise KeyboardInterrupt("simulated interruption")
                try:
                    data = json.loads(line)
                    event = {"type": "tool_execution", "tool_name": data["tool"], "timestamp": data["ts"],
                             "event_id": stable_id(path.name, number)}
                except (ValueError, KeyError) as error:
                    yield Parsed(str(path), error=RecordError(str(path), number, f"unreadable: {error}"))
                    continue
                yield Parsed(str(path), event=event)


@pytest.fixture
def files(tmp_path) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    for name in ("a", "b", "c"):
        lines = [json.dumps({"tool": f"T{name}", "ts": f"2025-09-0{i + 1}T10:00:00Z"}) for i in range(5)]
        if name == "b":
            lines.insert(2, "{broken")
        (root / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "empty.jsonl").write_text("")  # yields nothing: still finished, skipped next time
    return root


async def _events(store, people) -> int:
    async with store.unit_of_work(people.alice) as uow:
        return await uow.session.scalar(select(func.count()).select_from(MetricEvent))


async def test_import_reports_and_is_idempotent(store, people, sink, files):
    first = await run_import(JsonLinesParser(), [files], sink, user="alice@a.test", show_progress=False)
    assert (first.records_read, first.imported, first.rejected, first.duplicates) == (16, 15, 1, 0)
    assert first.errors[0].line == 3 and first.errors[0].source.endswith("b.jsonl")
    assert [Path(p).name for p in first.empty_files] == ["empty.jsonl"]  # reported as empty, not as an error
    assert (first.records_rejected, first.events_rejected, first.records_imported) == (1, 0, 15)
    second = await run_import(JsonLinesParser(), [files], sink, user="alice@a.test", show_progress=False)
    assert (second.skipped_files, second.imported, second.records_read) == (4, 0, 0)
    assert await _events(store, people) == 15
    async with store.unit_of_work(people.alice) as uow:
        status = await imports.list_status(uow, "test")
        mapped = await uow.session.scalar(select(LocalDataMapping))
    assert sorted((s.source.rsplit("/", 1)[-1], s.status, s.imported, s.rejected) for s in status) == [
        ("a.jsonl", "done", 5, 0), ("b.jsonl", "done", 5, 1), ("c.jsonl", "done", 5, 0), ("empty.jsonl", "done", 0, 0)]
    assert (mapped.local_identity, mapped.user_id) == ("user:jdoe", people.alice.user_id)


async def test_an_interrupted_import_resumes_without_double_counting(store, people, sink, files):
    partial_report = await run_import(JsonLinesParser(explode_at=9), [files], sink, show_progress=False)
    assert partial_report.interrupted  # Ctrl-C: the partial report, not an exception
    partial = await _events(store, people)
    assert 5 <= partial < 15  # file a finished; b was in flight
    assert partial_report.imported == partial
    resumed = await run_import(JsonLinesParser(), [files], sink, show_progress=False)
    assert resumed.skipped_files == 1  # a.jsonl; the interruption came before the empty file
    assert await _events(store, people) == 15


async def test_a_changed_file_is_imported_again_and_only_new_lines_count(store, people, sink, files):
    await run_import(JsonLinesParser(), [files], sink, show_progress=False)
    with (files / "c.jsonl").open("a") as handle:
        handle.write(json.dumps({"tool": "Tnew", "ts": "2025-09-09T10:00:00Z"}) + "\n")
    again = await run_import(JsonLinesParser(), [files], sink, show_progress=False)
    assert (again.skipped_files, again.imported, again.duplicates) == (3, 1, 5)


async def test_dry_run_stores_nothing(store, people, sink, files):
    report = await run_import(JsonLinesParser(), [files], sink, dry_run=True, show_progress=False)
    assert report.imported == 15 and report.dry_run
    assert await _events(store, people) == 0
