"""REST batch ingestion, two versions of the code side by side: throughput and server CPU.

    git worktree add /tmp/fortium-base <commit>
    FORTIUM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/bench_ingest_ab.py --base /tmp/fortium-base/src [--rounds 4] [--events 200000]

A change to the ingestion path moves REST throughput by a few per cent, less than this shared
machine drifts between two runs of bench_ingest_copy.py. So both versions run at once, each as its
own uvicorn server (bench_ingest_copy's, the same clients and events) against one throw-away
database, and take turns: round by round, the order alternating. Per round it prints events/s and
the server process's CPU per event (from /proc); at the end the medians and new/base.
`--base` is the `src` directory of the other version; "new" is the installed code (this checkout).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest_copy import Server, ThrowAwayDatabase, events, new_org_and_key, post_all_raw  # noqa: E402


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="src directory of the version to compare with")
    parser.add_argument("--events", type=int, default=200_000, help="events per round and version")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if not Path(args.base, "fortium_metrics").is_dir():
        sys.exit(f"--base: {args.base} holds no fortium_metrics package")
    admin = os.environ.get("FORTIUM_BENCH_POSTGRES_URL") or os.environ.get("FORTIUM_TEST_POSTGRES_URL")
    if not admin:
        sys.exit("set FORTIUM_TEST_POSTGRES_URL (or FORTIUM_BENCH_POSTGRES_URL) to a superuser URL")
    start = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    results: dict[str, list[tuple[float, float]]] = {"base": [], "new": []}
    with ThrowAwayDatabase(admin) as (owner, app_url), tempfile.TemporaryDirectory() as scratch:
        servers = {}
        for name, code in (("base", str(Path(args.base).resolve())), ("new", None)):
            _org, _user, secret = asyncio.run(new_org_and_key(app_url, owner, name))
            data_dir = Path(scratch, name)
            data_dir.mkdir()
            servers[name] = (Server(app_url, str(data_dir), 1, code), secret)
        try:
            for server, _ in servers.values():
                server.wait_ready()
            for round_number in range(args.rounds):
                order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for name in order:
                    server, secret = servers[name]
                    items = events(args.events, start, f"{name}-{round_number}")
                    bodies = [json.dumps({"events": items[i:i + args.batch]}).encode()
                              for i in range(0, len(items), args.batch)]
                    cpu = process_cpu(server.process.pid)
                    seconds = asyncio.run(post_all_raw(server.url, secret, bodies, args.clients))
                    cpu = process_cpu(server.process.pid) - cpu
                    results[name].append((args.events / seconds, cpu / args.events * 1e6))
                    print(f"round {round_number + 1} {name:4s}: {results[name][-1][0]:8.0f} events/s   "
                          f"server CPU {results[name][-1][1]:.2f} µs/event", flush=True)
        finally:
            for server, _ in servers.values():
                server.stop()
    medians = {name: (statistics.median(r for r, _ in rows), statistics.median(c for _, c in rows))
               for name, rows in results.items()}
    for name, (rate, cpu) in medians.items():
        print(f"{name:4s} median {rate:8.0f} events/s   server CPU {cpu:.2f} µs/event")
    print(f"new / base throughput {medians['new'][0] / medians['base'][0]:.3f}")


if __name__ == "__main__":
    main()
