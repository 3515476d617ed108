"""Ctrl-C during an import with store processes, in a real `fortium-metrics` subprocess: one line,
a partial report, no traceback; the same command run again finishes the job, and nothing is
counted twice."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fortium_metrics import imports
from fortium_metrics.store.models import AgentSession, MetricEvent
from fixture_paths import TRANSCRIPTS

pytestmark = pytest.mark.anyio

SAMPLE = TRANSCRIPTS / "-Users-jdoe-src-web-app" / "3c1f9a52-6d0e-4b8a-9f3e-2a7b5c8d9e01.jsonl"
SAMPLE_SESSION = "3c1f9a52-6d0e-4b8a-9f3e-2a7b5c8d9e01"
ROWS_PER_SESSION = 17  # S1 of tests/fixtures/EXPECTED.md §2: 9 API requests, 7 tool executions, 1 prompt
EVENTS_PER_SESSION = ROWS_PER_SESSION + 2  # and the session's start and end
COPIES = 1200  # about 23,000 events: several chunks, so Ctrl-C lands in the middle


def _tree(root: Path) -> Path:
    """COPIES sessions, each the sample session under fresh ids (session and line uuids, requests,
    messages, tools)."""
    text = SAMPLE.read_text()
    project = root / "projects" / "-Users-jdoe-src-web-app"
    project.mkdir(parents=True)
    for copy in range(COPIES):
        body = UUID.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_OID, f"{copy}:{m.group()}")), text)
        for prefix in ('"req_', '"msg_', '"toolu_'):
            body = body.replace(prefix, f"{prefix}{copy}x")
        session = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{copy}:{SAMPLE_SESSION}"))
        (project / f"{session}.jsonl").write_text(body)
    return root / "projects"


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _command(backend, people, tmp_path: Path, tree: Path) -> list[str]:
    return [sys.executable, "-c", "from fortium_metrics.entry import main; main()", "--database-url", backend.url, "--data-dir",
            str(tmp_path / "data"), "import", "transcripts", str(tree), "--org", people.slug_a, "--user",
            "alice@a.test", "--workers", "2", "--json", "--no-progress"]


async def _done_files(store, people) -> int:
    async with store.unit_of_work(people.alice) as uow:
        return len(await imports.finished_sources(uow, "transcripts"))


async def _counts(store, people) -> tuple[int, int]:
    async with store.unit_of_work(people.alice) as uow:
        events = await uow.session.scalar(select(func.count()).select_from(MetricEvent))
        sessions = await uow.session.scalar(select(func.count()).select_from(AgentSession))
    return events, sessions


async def test_ctrl_c_prints_one_line_and_a_partial_report_and_a_rerun_finishes(store, people, backend, tmp_path):
    tree = _tree(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_")}
    first = subprocess.Popen(_command(backend, people, tmp_path, tree), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 300
    while await _done_files(store, people) == 0 and first.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # polls for an observable state (a finished file), not a guessed delay
    assert first.poll() is None, "the import finished before it could be interrupted"
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 130, err
    assert "Traceback" not in err and "Error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted" in lines[0], err
    partial = json.loads(out)
    assert partial["interrupted"] is True and partial["events_rejected"] == 0
    assert 0 < partial["events_imported"] < COPIES * EVENTS_PER_SESSION

    second = subprocess.run(_command(backend, people, tmp_path, tree), capture_output=True, env=env, text=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["interrupted"] is False and report["skipped_files"] > 0
    assert await _counts(store, people) == (COPIES * ROWS_PER_SESSION, COPIES)
    assert partial["events_imported"] + report["events_imported"] == COPIES * EVENTS_PER_SESSION
