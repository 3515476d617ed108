"""The import's progress line: bytes of the files to read (the bar, its rate and the time left),
records read and their rate, events stored. Bytes, not files: one transcript can hold 100,000
lines, and a bar counting files would sit still while it is read."""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from .base import ParseStats


class ImportProgress:
    def __init__(self, title: str, total_bytes: int, show: bool, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=16), DownloadColumn(), TransferSpeedColumn(),
            TextColumn("{task.fields[records]:,} records {task.fields[rate]:,.0f}/s"),
            TextColumn("{task.fields[events]:,} events"), TimeRemainingColumn(compact=True),
            console=console or Console(stderr=True), disable=not show, transient=False)
        self._task = self._progress.add_task(title, total=max(total_bytes, 1), records=0, rate=0.0, events=0)
        self._began = time.monotonic()

    def __enter__(self) -> "ImportProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def update(self, stats: ParseStats, events: int) -> None:
        elapsed = max(time.monotonic() - self._began, 1e-6)
        self._progress.update(self._task, completed=stats.bytes_read, records=stats.records_read,
                              rate=stats.records_read / elapsed, events=events)

    def finish(self, stats: ParseStats, events: int) -> None:
        self.update(stats, events)
        self._progress.update(self._task, completed=self._progress.tasks[0].total)
