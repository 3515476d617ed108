"""`fortium-metrics hook` as Claude Code runs it: a process fed JSON on stdin. It prints nothing,
exits 0, spools the event and leaves delivery to a background process (`hook --drain`), which
delivers once, logs an outage once, and sets refused items aside.

The hook hands drain.lock to the delivery process it starts, and that process lets go of it only
when nothing is pending or delivery must wait: `wait_for_delivery` blocks on it (no sleeps)."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fortium_metrics.mcp.spool import Spool
from fortium_metrics.store.models import AgentSession, MetricEvent
from fixture_paths import HOOKS

pytestmark = pytest.mark.anyio
CLI = str(Path(sys.executable).parent / "fortium-metrics")


def run_hook(payload: bytes, env: dict, *args: str) -> subprocess.CompletedProcess:
    """One hook call; `--linger 0` so the delivery process exits as soon as the spool is empty."""
    return subprocess.run([CLI, "hook", "--linger", "0", *args], input=payload, env=env, capture_output=True, timeout=60)


def wait_for_delivery(data_dir: Path) -> None:
    """Until the delivery process a hook started has finished."""
    fd = os.open(data_dir / "hook-spool" / "drain.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


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


def quiet(done: subprocess.CompletedProcess) -> bool:
    return (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def log_lines(tmp_path, text: str) -> list[str]:
    log = tmp_path / "laptop" / "hook.log"
    return [line for line in log.read_text().splitlines() if text in line] if log.exists() else []


async def count_tools(store, principal) -> int:
    async with store.unit_of_work(principal) as uow:
        return await uow.session.scalar(select(func.count()).select_from(MetricEvent).where(MetricEvent.kind == "tool_execution"))


async def test_server_down_spools_quietly_logs_once_then_delivers_exactly_once(tmp_path, live_server, keys, store, people):
    laptop = tmp_path / "laptop"
    down = base_env(tmp_path, FORTIUM_API_URL=f"http://127.0.0.1:{closed_port()}", FORTIUM_API_KEY=keys["alice"])
    for tool_use_id in ("t1", "t2", "t3"):
        assert quiet(run_hook(tool_payload(tool_use_id), down))
        wait_for_delivery(laptop)  # each call's delivery attempt has failed
    assert Spool(laptop / "hook-spool").pending() == 3
    assert await count_tools(store, people.alice) == 0
    assert len(log_lines(tmp_path, "server unreachable")) == 1  # once per outage, not per call

    up = {**down, "FORTIUM_API_URL": live_server.url}
    assert quiet(run_hook(tool_payload("t4"), up))
    wait_for_delivery(laptop)
    assert await count_tools(store, people.alice) == 4
    assert Spool(laptop / "hook-spool").pending() == 0
    assert len(log_lines(tmp_path, "delivery resumed")) == 1

    assert quiet(run_hook(tool_payload("t4"), up))  # Claude Code fired twice: still once
    wait_for_delivery(laptop)
    assert await count_tools(store, people.alice) == 4
    assert len(log_lines(tmp_path, "server unreachable")) == 1 and len(log_lines(tmp_path, "delivery resumed")) == 1


async def test_items_the_server_refuses_are_set_aside_and_the_rest_delivered(tmp_path, live_server, keys, store, people):
    laptop = tmp_path / "laptop"
    spool = Spool(laptop / "hook-spool")
    with spool.hold():  # queued during an outage by an older client: one event the server refuses
        spool.append([{"type": "tool_execution", "event_id": "bad", "duration_ms": "slow"}])
    up = base_env(tmp_path, FORTIUM_API_URL=live_server.url, FORTIUM_API_KEY=keys["alice"])
    assert quiet(run_hook(tool_payload("t1"), up))
    wait_for_delivery(laptop)
    assert await count_tools(store, people.alice) == 1 and spool.pending() == 0
    rejected = [json.loads(line) for line in (laptop / "hook-spool" / "spool.rejected.jsonl").read_text().splitlines()]
    assert [item["events"][0]["event_id"] for item in rejected] == ["bad"] and rejected[0]["reason"]
    assert log_lines(tmp_path, "queued event 0 was refused")


async def test_a_wrong_key_keeps_events_queued_and_is_logged_once(tmp_path, live_server):
    laptop = tmp_path / "laptop"
    env = base_env(tmp_path, FORTIUM_API_URL=live_server.url, FORTIUM_API_KEY="fmk_not_a_key")
    for tool_use_id in ("t1", "t2"):
        assert quiet(run_hook(tool_payload(tool_use_id), env))
        wait_for_delivery(laptop)
    assert Spool(laptop / "hook-spool").pending() == 2
    assert len(log_lines(tmp_path, "refused FORTIUM_API_KEY")) == 1


async def test_embedded_mode_records_every_sample_hook_locally(tmp_path):
    env = base_env(tmp_path)
    names = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStop", "SessionEnd"]
    for name in names:  # back to back: later calls find the delivery process running, or exiting
        assert quiet(run_hook((HOOKS / f"{name}.json").read_bytes(), env))
    wait_for_delivery(tmp_path / "laptop")
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
    assert Spool(tmp_path / "laptop" / "hook-spool").pending() == 0


@pytest.mark.parametrize("stdin", [b"", b"{not json", b"[1, 2]", b"\xff\xfe", b'{"hook_event_name": ["x"]}',
                                   b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'])
def test_garbage_on_stdin_is_ignored_silently(tmp_path, stdin):
    done = run_hook(stdin, base_env(tmp_path))
    assert quiet(done)
    assert Spool(tmp_path / "laptop" / "hook-spool").pending() == 0
    if stdin:  # why nothing was recorded is in the log, not on the terminal
        assert log_lines(tmp_path, "hook: ")


def test_an_unusable_data_directory_is_still_quiet(tmp_path):
    (tmp_path / "laptop").write_text("a file where the directory should be")
    assert quiet(run_hook(tool_payload("t1"), base_env(tmp_path)))


def test_help_and_bad_arguments(tmp_path):
    env = base_env(tmp_path)
    for flag in ("-h", "--help"):
        done = subprocess.run([CLI, "hook", flag], env=env, capture_output=True, timeout=60)
        assert done.returncode == 0 and b"Usage: fortium-metrics hook" in done.stdout and b"--drain" in done.stdout
    done = subprocess.run([CLI, "--data-dir", str(tmp_path / "other"), "hook", "-h"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0 and b"Usage: fortium-metrics hook" in done.stdout
    # a typo in a settings file must not block Claude Code: noted, and the event still recorded
    down = base_env(tmp_path, FORTIUM_API_URL=f"http://127.0.0.1:{closed_port()}", FORTIUM_API_KEY="fmk_x")
    for args in (["--bogus"], ["--timeout", "x"]):
        assert quiet(subprocess.run([CLI, "hook", *args], input=tool_payload(args[-1]), env=down,
                                    capture_output=True, timeout=60))
        wait_for_delivery(tmp_path / "laptop")
        assert log_lines(tmp_path, args[-1])
    assert Spool(tmp_path / "laptop" / "hook-spool").pending() == 2


def test_the_group_data_dir_option_reaches_the_hook(tmp_path):
    env = base_env(tmp_path)
    other = tmp_path / "other"
    done = subprocess.run([CLI, "--data-dir", str(other), "hook", "--linger", "0"], input=b"{not json", env=env,
                          capture_output=True, timeout=60)
    assert quiet(done) and "hook: " in (other / "hook.log").read_text()
    assert not (tmp_path / "laptop").exists()
