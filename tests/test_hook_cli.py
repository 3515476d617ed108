"""`fortium-metrics hook` as Claude Code runs it: a process fed JSON on stdin. It prints nothing,
exits 0 within its time budget, spools while the server is down and delivers later, once."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fortium_metrics.store.models import AgentSession, MetricEvent
from fixture_paths import HOOKS

pytestmark = pytest.mark.anyio
CLI = str(Path(sys.executable).parent / "fortium-metrics")


def run_hook(payload: bytes, env: dict, timeout: float = 2.0) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([CLI, "hook", "--timeout", str(timeout)], input=payload, env=env,
                          capture_output=True, timeout=60)
    return done, time.monotonic() - started


def base_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_")}
    return {**env, "FORTIUM_DATA_DIR": str(tmp_path / "laptop"), **extra}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tool_payload(tool_use_id: str) -> bytes:
    data = json.loads((HOOKS / "PostToolUse.json").read_text())
    return json.dumps({**data, "tool_use_id": tool_use_id}).encode()


async def count_tools(store, principal) -> int:
    async with store.unit_of_work(principal) as uow:
        return await uow.session.scalar(select(func.count()).select_from(MetricEvent).where(MetricEvent.kind == "tool_execution"))


async def test_server_down_spools_quietly_then_delivers_exactly_once(tmp_path, live_server, keys, store, people):
    down = base_env(tmp_path, FORTIUM_API_URL=f"http://127.0.0.1:{closed_port()}", FORTIUM_API_KEY=keys["alice"])
    for tool_use_id in ("t1", "t2"):
        done, elapsed = run_hook(tool_payload(tool_use_id), down, timeout=10)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"") and elapsed < 30
    assert (tmp_path / "laptop" / "hook-spool" / "spool.jsonl").stat().st_size > 0
    assert await count_tools(store, people.alice) == 0
    up = {**down, "FORTIUM_API_URL": live_server.url}
    # A generous budget: this machine may be loaded; delivery itself is not what is timed here.
    done, _ = run_hook(tool_payload("t3"), up, timeout=30)
    assert done.returncode == 0 and done.stdout == b""
    assert await count_tools(store, people.alice) == 3
    run_hook(tool_payload("t3"), up, timeout=30)  # Claude Code fired twice: still once
    assert await count_tools(store, people.alice) == 3


async def test_embedded_mode_records_every_sample_hook_locally(tmp_path):
    env = base_env(tmp_path)
    for name in ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStop", "SessionEnd"]:
        done, _ = run_hook((HOOKS / f"{name}.json").read_bytes(), env, timeout=20)
        assert (done.returncode, done.stdout) == (0, b"")
    from fortium_metrics.config import load_settings
    from fortium_metrics.context import AppContext
    from fortium_metrics.local import ensure_local_principal

    app = AppContext.build(load_settings(data_dir=tmp_path / "laptop"))
    principal = await ensure_local_principal(app.store)
    async with app.store.unit_of_work(principal) as uow:
        tools = (await uow.session.execute(select(MetricEvent.name, MetricEvent.success).where(MetricEvent.kind == "tool_execution")
                                           .order_by(MetricEvent.name))).all()
        session = await uow.session.scalar(select(AgentSession))
    await app.close()
    assert tools == [("Bash", False), ("Edit", True)] and session.ended_at is not None


@pytest.mark.parametrize("stdin", [b"", b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_garbage_on_stdin_is_ignored_silently(tmp_path, stdin):
    done, _ = run_hook(stdin, base_env(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
