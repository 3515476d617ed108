"""Live updates at 1,000 connected clients: ingest -> WebSocket delivery latency, and the server's memory.

    .venv/bin/python bench/bench_ws.py [--clients 1000] [--workers 2] [--rounds 60] [--interval 0.25]

The server is the production app (`create_app`, GC tuned as `serve` runs it) under uvicorn in its
own process, on SQLite. Clients are real WebSocket connections on 127.0.0.1 with a signed-in
session cookie and the page's Origin, spread over `--workers` processes (asyncio; a lean client
that only completes the handshake, answers pings and notes arrivals, so that the clients' own CPU
takes as little as possible from the server on the shared cores). Each round posts one event to
`POST /api/v1/metrics/batch` and notes the time; every client notes when its `metric_ingested`
arrives. Latency = arrival - post, so it includes the HTTP request and the commit.

Baseline, measured in the same run just before: the same rounds with a single client connected.
Reported: p50/p99 for both, their ratio, and the server's RSS before and after the clients
connect. Target: p99 <= 100 ms at 1,000 clients on the 2-core machine.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mcp_latency import cpu_ms, free_port, wait_until_listening  # noqa: E402

PER_USER = 10  # FORTIUM_WS_MAX_PER_USER's default: clients are spread over enough people
MARK = '"type":"metric_ingested"'


# -- server process ---------------------------------------------------------------------------
def serve(port: int, data_dir: Path) -> None:
    import uvicorn

    from fortium_metrics.app import create_app
    from fortium_metrics.config import load_settings
    from fortium_metrics.runtime import tune_gc_for_serving

    settings = load_settings(data_dir=data_dir, port=port, log_level="warning", rate_limit="off")
    app = create_app(settings)
    tune_gc_for_serving()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False)  # as `serve`


async def set_up(data_dir: Path, people: int) -> tuple[str, list[str]]:
    """An organisation with `people` developers: an ingest key and one session token per person."""
    from fortium_metrics import apikeys, orgs, users
    from fortium_metrics.accounts import Accounts
    from fortium_metrics.config import load_settings
    from fortium_metrics.jwt_tokens import TokenKeys
    from fortium_metrics.login_guard import LoginGuard
    from fortium_metrics.principal import Principal
    from fortium_metrics.store import migrate
    from fortium_metrics.store.engine import create_engine
    from fortium_metrics.store.uow import Store

    settings = load_settings(data_dir=data_dir, access_token_minutes=1440)
    migrate.upgrade(settings.effective_admin_database_url, "head", settings.app_db_role)
    store = Store(create_engine(settings.effective_database_url))
    accounts = Accounts(store, TokenKeys.from_settings(settings), LoginGuard(settings), timedelta(days=1))
    try:
        async with store.unit_of_work(Principal.system("bench")) as uow:
            org = await orgs.create_organization(uow, "Bench", "bench")
        async with store.unit_of_work(Principal.org_admin(org.id)) as uow:
            made = [await users.create_user(uow, f"p{n}@bench.test", f"P{n}", "developer") for n in range(people)]
            key = (await apikeys.create_api_key(uow, "bench", ["ingest"], "p0@bench.test")).secret
        return key, [(await accounts.sign_in_user(user, "bench")).access_token for user in made]
    finally:
        await store.dispose()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- client processes -----------------------------------------------------------------------------
class LeanClient(asyncio.Protocol):
    """A real WebSocket client that does no more than it must (the handshake, answering the
    server's pings, noting when each `metric_ingested` arrives), so that what is measured is the
    server's delivery, not a client library's parsing: a browser tab has a process of its own."""

    def __init__(self, request: bytes, opened: asyncio.Future, times: list[tuple[float, float]]) -> None:
        self.request, self.opened, self.times = request, opened, times
        self.buffer = bytearray()
        self.upgraded = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(bytes(self.buffer[:200]).decode(errors="replace")))
                return
            self.upgraded = True
            del self.buffer[:end + 4]
        self.frames(arrived)

    def frames(self, arrived: float) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            opcode, size, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if size >= 126:
                start = 4 if size == 126 else 10
                if len(buffer) < start:
                    return
                size = int.from_bytes(buffer[2:start], "big")
            if len(buffer) < start + size:
                return
            payload = bytes(buffer[start:start + size])
            del buffer[:start + size]
            if opcode == 0x9:  # ping: a pong with the same payload, masked (with a zero key)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            elif opcode == 0x1 and not self.opened.done():
                self.opened.set_result(None)  # hello
            elif opcode == 0x1 and MARK.encode() in payload:
                at = payload.rfind(b'"published_at":') + len(b'"published_at":')
                self.times.append((arrived, float(payload[at:payload.index(b"}", at)])))


def upgrade_request(port: int, token: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: fm_access={token}\r\n\r\n").encode()


def client_process(port: int, tokens: list[str], ready, results, stop) -> None:
    asyncio.run(clients(port, tokens, ready, results, stop))


async def clients(port: int, tokens: list[str], ready, results, stop) -> None:
    loop = asyncio.get_running_loop()
    arrivals: list[list[tuple[float, float]]] = [[] for _ in tokens]  # (arrived, published) per message
    transports = []
    for start in range(0, len(tokens), 50):  # in steps, not 500 handshakes at once
        opened = [loop.create_future() for _ in tokens[start:start + 50]]
        for n, future in enumerate(opened, start):
            transport, _ = await loop.create_connection(
                lambda n=n, future=future: LeanClient(upgrade_request(port, tokens[n]), future, arrivals[n]),
                "127.0.0.1", port)
            transports.append(transport)
        await asyncio.wait_for(asyncio.gather(*opened), 60)
    ready.set()
    await loop.run_in_executor(None, stop.wait)
    for transport in transports:
        transport.close()
    results.put(arrivals)


def start_clients(port: int, tokens: list[str], workers: int):
    ctx = mp.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    processes, readies = [], []
    for n in range(workers):
        ready = ctx.Event()
        process = ctx.Process(target=client_process, args=(port, tokens[n::workers], ready, results, stop), daemon=True)
        process.start()
        processes.append(process)
        readies.append(ready)
    for ready in readies:
        assert ready.wait(300), "clients did not connect"
    return processes, stop, results


def measure(port: int, key: str, tokens: list[str], workers: int, rounds: int, interval: float,
            server_pid: int) -> tuple[list[float], list[float], float, float]:
    """Latencies (ms) of every client for every round from the post and from the server's publish,
    the server's RSS once they connected, and the server's CPU time per round (ms)."""
    import httpx

    processes, stop, results = start_clients(port, tokens, workers)
    connected = rss_mib(server_pid)
    cpu_before = cpu_ms(server_pid)
    sent = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as http:
        for n in range(rounds + 5):
            before = time.time()
            response = http.post("/api/v1/metrics/batch", json={"events": [
                {"type": "task", "task_name": "bench", "event_id": f"{time.time_ns()}-{n}"}]})
            assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
            sent.append(before)
            time.sleep(interval)
    time.sleep(3)  # the last round's deliveries
    cpu = (cpu_ms(server_pid) - cpu_before) / len(sent)
    stop.set()
    latencies, fan_out, missing = [], [], 0
    for _ in processes:
        for arrivals in results.get(timeout=120):
            missing += len(sent) - len(arrivals)
            for (got, published), posted in list(zip(arrivals, sent))[5:]:  # 5 warm-up rounds
                latencies.append((got - posted) * 1000)
                fan_out.append((got - published) * 1000)
    for process in processes:
        process.join(timeout=30)
    assert missing == 0, f"{missing} messages never arrived"
    return latencies, fan_out, connected, cpu


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--rounds", type=int, default=60, help="measured ingests per phase")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between ingests")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(int(args.serve[0]), Path(args.serve[1]))
    with tempfile.TemporaryDirectory(prefix="fortium-bench-ws-") as tmp:
        data_dir, port = Path(tmp), free_port()
        key, people = asyncio.run(set_up(data_dir, -(-args.clients // PER_USER)))
        tokens = [people[n // PER_USER] for n in range(args.clients)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_")}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(data_dir)], env=env)
        try:
            wait_until_listening(port, server)
            idle = rss_mib(server.pid)
            baseline, base_publish, _, base_cpu = measure(port, key, tokens[:1], 1, args.rounds, args.interval,
                                                          server.pid)
            before = rss_mib(server.pid)
            fanned, publish, connected, fan_cpu = measure(port, key, tokens, args.workers, args.rounds, args.interval,
                                                          server.pid)
            report(args, (baseline, base_publish), (fanned, publish), idle, before, connected, (base_cpu, fan_cpu))
        finally:
            server.terminate()
            server.wait(timeout=30)


def report(args, baseline: tuple[list[float], list[float]], fanned: tuple[list[float], list[float]], idle: float,
           before: float, connected: float, cpu: tuple[float, float]) -> None:
    print(f"metric_ingested, {args.rounds} ingests per phase, {args.interval} s apart (SQLite), "
          f"{args.workers} client processes")
    for what, index in (("ingest (POST sent) -> delivery", 0), ("publish (after the commit) -> delivery", 1)):
        b50, b99 = percentile(baseline[index], 50), percentile(baseline[index], 99)
        f50, f99 = percentile(fanned[index], 50), percentile(fanned[index], 99)
        print(f"  {what}:")
        print(f"    baseline,      1 client : p50 {b50:7.1f} ms   p99 {b99:7.1f} ms   ({len(baseline[index])} deliveries)")
        print(f"    fan-out, {args.clients:>5} clients: p50 {f50:7.1f} ms   p99 {f99:7.1f} ms   "
              f"({len(fanned[index])} deliveries; ratio p50 {f50 / b50:.2f} x, p99 {f99 / b99:.2f} x)")
    print(f"server CPU per ingest (idle time between rounds included): 1 client {cpu[0]:.1f} ms, "
          f"{args.clients} clients {cpu[1]:.1f} ms")
    print(f"server RSS: idle {idle:.1f} MiB, before connecting {before:.1f} MiB, with {args.clients} clients "
          f"{connected:.1f} MiB (+{(connected - before) * 1024 / args.clients:.1f} KiB per connection)")
    f99 = percentile(fanned[0], 99)
    print(f"target (ingest -> delivery p99 <= 100 ms at 1,000 clients): {'met' if f99 <= 100 else 'MISSED'}"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
