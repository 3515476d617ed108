"""The forwarder's durable spool: FIFO across restarts, crash leftovers, and one user at a time
across processes."""
from __future__ import annotations

import anyio
import pytest

from fortium_metrics.mcp.spool import Spool

pytestmark = pytest.mark.anyio


async def _drain(spool: Spool) -> list[list[dict]]:
    delivered = []
    async with spool.locked():
        while (entry := spool.head()) is not None:
            delivered.append(entry[0])
            spool.advance(entry[1])
    return delivered


async def test_batches_come_back_in_order_after_a_restart(tmp_path):
    spool = Spool(tmp_path)
    async with spool.locked():
        for n in range(3):
            spool.append([{"n": n}])
        batch, after_first = spool.head()
        spool.advance(after_first)
    reopened = Spool(tmp_path)  # a new process
    assert reopened.pending() == 2
    assert await _drain(reopened) == [[{"n": 1}], [{"n": 2}]]
    assert reopened.pending() == 0 and (tmp_path / "spool.jsonl").stat().st_size == 0


async def test_a_line_torn_by_a_crash_is_skipped_and_does_not_swallow_the_next_batch(tmp_path):
    spool = Spool(tmp_path)
    async with spool.locked():
        spool.append([{"n": 0}])
    with open(tmp_path / "spool.jsonl", "ab") as handle:
        handle.write(b'[{"n": 1')  # the process died mid-write: never acknowledged
    async with spool.locked():
        spool.append([{"n": 2}])
    assert await _drain(spool) == [[{"n": 0}], [{"n": 2}]]


async def test_two_spools_on_one_directory_take_turns(tmp_path):
    """Two `fortium-metrics mcp` processes (two Claude Code windows) share the data directory."""
    first, second, order = Spool(tmp_path), Spool(tmp_path), []

    async def hold(spool: Spool, name: str, entered: anyio.Event | None = None) -> None:
        async with spool.locked():
            order.append(f"{name} in")
            if entered is not None:
                entered.set()
                await anyio.sleep(0.1)
            order.append(f"{name} out")

    async with anyio.create_task_group() as tasks:
        entered = anyio.Event()
        tasks.start_soon(hold, first, "first", entered)
        await entered.wait()
        tasks.start_soon(hold, second, "second")
    assert order == ["first in", "first out", "second in", "second out"]
