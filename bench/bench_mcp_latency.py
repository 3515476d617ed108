"""MCP tool-call latency over Streamable HTTP: `record_tool_use` against a no-op tool on the same
server, against a real uvicorn server (its own process) on SQLite.

    .venv/bin/python bench/bench_mcp_latency.py [--calls 2000] [--warmup 200]

The server is the production app (`create_app`: API-key auth on every request, DNS-rebinding
check, the real tools); the benchmark only adds a `noop` tool to its MCP server, so both calls pay
the same HTTP, auth, session and SDK costs and the ratio isolates what recording costs. Calls
alternate between the two tools so that machine noise hits both alike. Target: record p50 < 5 ms
and <= 1.5x the no-op.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOOP = "noop"
RECORD = "record_tool_use"


# -- server process ---------------------------------------------------------------------------
def serve(port: int, data_dir: Path) -> None:
    import uvicorn

    import fortium_metrics.mcp.http as mcp_http
    from fortium_metrics.app import create_app
    from fortium_metrics.runtime import tune_gc_for_serving
    from fortium_metrics.config import load_settings

    build = mcp_http.build_mcp

    def build_with_noop(*args, **kwargs):
        server = build(*args, **kwargs)

        async def noop() -> str:
            """Does nothing: the baseline."""
            return "ok"

        server.add_tool(noop, name=NOOP)
        return server

    mcp_http.build_mcp = build_with_noop  # this benchmark's server instance only
    settings = load_settings(data_dir=data_dir, port=port, log_level="warning", rate_limit="off")  # latency, not limits
    app = create_app(settings)
    tune_gc_for_serving()  # as `fortium-metrics serve` runs it
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- set-up and client ----------------------------------------------------------------------------
async def make_key(data_dir: Path) -> str:
    from fortium_metrics import apikeys, orgs, users
    from fortium_metrics.config import load_settings
    from fortium_metrics.principal import Principal
    from fortium_metrics.store import migrate
    from fortium_metrics.store.engine import create_engine
    from fortium_metrics.store.uow import Store

    settings = load_settings(data_dir=data_dir)
    migrate.upgrade(settings.effective_admin_database_url, "head", settings.app_db_role)
    store = Store(create_engine(settings.effective_database_url))
    try:
        async with store.unit_of_work(Principal.system("bench")) as uow:
            org = await orgs.create_organization(uow, "Bench", "bench")
        async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
            await users.create_user(uow, "bench@bench.test", "Bench", "developer")
            return (await apikeys.create_api_key(uow, "bench", ["ingest", "read"], "bench@bench.test")).secret
    finally:
        await store.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start (exit code {process.poll()})")
            time.sleep(0.05)


def cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) a process has used, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def measure(port: int, key: str, calls: int, warmup: int, server_pid: int):
    """(wall-clock ms per call by tool, interleaved; server CPU ms per call by tool, one tool at a time).
    CPU time is what a call costs the server whatever else the machine is doing."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    arguments = {NOOP: {}, RECORD: {"tool_name": "Read", "duration_ms": 3.5, "session_id": "bench"}}
    timings: dict[str, list[float]] = {NOOP: [], RECORD: []}
    cpu: dict[str, float | None] = {}

    async def call(session, tool: str) -> float:
        started = time.perf_counter()
        result = await session.call_tool(tool, arguments[tool])
        elapsed = (time.perf_counter() - started) * 1000
        assert not result.is_error, result.content[0].text
        return elapsed

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        async with streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for n in range(warmup + calls):
                    for tool in (NOOP, RECORD) if n % 2 else (RECORD, NOOP):
                        elapsed = await call(session, tool)
                        if n >= warmup:
                            timings[tool].append(elapsed)
                for tool in (NOOP, RECORD):
                    before = cpu_ms(server_pid)
                    for _ in range(calls):
                        await call(session, tool)
                    after = cpu_ms(server_pid)
                    cpu[tool] = None if before is None or after is None else (after - before) / calls
    return timings, cpu


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


def report(timings: dict[str, list[float]], cpu: dict[str, float | None]) -> None:
    rows = {tool: (percentile(values, 50), percentile(values, 99)) for tool, values in timings.items()}
    print(f"calls per tool: {len(timings[NOOP])} (Streamable HTTP, SQLite, one session, sequential)")
    for tool in (NOOP, RECORD):
        server_cpu = f"   server CPU {cpu[tool]:5.2f} ms/call" if cpu[tool] is not None else ""
        print(f"{tool:>16}: p50 {rows[tool][0]:6.2f} ms   p99 {rows[tool][1]:6.2f} ms{server_cpu}")
    ratio50, ratio99 = rows[RECORD][0] / rows[NOOP][0], rows[RECORD][1] / rows[NOOP][1]
    cpu_ratio = f"   server CPU {cpu[RECORD] / cpu[NOOP]:5.2f} x" if cpu[NOOP] else ""
    print(f"{'ratio':>16}: p50 {ratio50:6.2f} x    p99 {ratio99:6.2f} x{cpu_ratio}")
    met = rows[RECORD][0] < 5 and ratio50 <= 1.5
    print(f"target (record p50 < 5 ms and <= 1.5x no-op): {'met' if met else 'MISSED'}"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per tool")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured calls per tool first")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(int(args.serve[0]), Path(args.serve[1]))
    with tempfile.TemporaryDirectory(prefix="fortium-bench-") as tmp:
        data_dir, port = Path(tmp), free_port()
        key = asyncio.run(make_key(data_dir))
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_")}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(data_dir)], env=env)
        try:
            wait_until_listening(port, server)
            report(*asyncio.run(measure(port, key, args.calls, args.warmup, server.pid)))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
