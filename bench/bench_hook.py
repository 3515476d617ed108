"""What `fortium-metrics hook` costs Claude Code per tool call, against `python -c pass` measured
in the same run with the same interpreter:

    .venv/bin/python bench/bench_hook.py [--runs 60]

Runs the venv's console script (`.venv/bin/fortium-metrics hook`, what users run) with a
PostToolUse payload on stdin (a new tool_use_id each call) in three set-ups, interleaved with the
baseline so a change in the machine's load hits all of them alike:

* embedded: no FORTIUM_API_URL; delivery into the local SQLite file;
* forwarder, server down: FORTIUM_API_URL on a closed port;
* forwarder, server up: a real `fortium-metrics serve` on 127.0.0.1 (own process, SQLite).

Per call: wall time from spawn to exit and CPU (user + system) of the process, from wait4(); peak
RSS from separate calls through GNU time (/usr/bin/time -f %M): a process's ru_maxrss starts at the
RSS of the process that spawned it (Linux keeps the larger across exec), here the benchmark's own
~16 MiB, so only a small launcher such as time(1) gives the hook's real peak. The hook returns once the event is spooled; delivery runs in a detached process the hook
starts, which is not on Claude Code's path: its cost is measured separately below (a synchronous
`hook --drain --linger 0` per set-up). At the end every event is checked: delivered exactly once
(embedded, server up) or still queued (server down). Targets: median wall <= 60 ms and <= 5x the
baseline; peak RSS <= 40 MiB.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "fortium-metrics")
GNU_TIME = "/usr/bin/time"
TARGET_MS, TARGET_RATIO, TARGET_MIB = 60.0, 5.0, 40.0
PAYLOAD = {
    "session_id": "a4c2e8f0-1d3b-4a5c-8e7f-9b0a1c2d3e4f", "transcript_path": "/home/dev/.claude/projects/p/s.jsonl",
    "cwd": "/home/dev/projects/webapp", "permission_mode": "default", "hook_event_name": "PostToolUse",
    "tool_name": "Edit", "tool_input": {"file_path": "/home/dev/projects/webapp/src/app.ts", "old_string": "a" * 400,
                                        "new_string": "b" * 400},
    "tool_response": {"filePath": "/home/dev/projects/webapp/src/app.ts", "success": True}, "duration_ms": 14,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(argv: list[str], env: dict, stdin_path: str, out_path: str) -> tuple[float, float]:
    """(wall ms, CPU ms) of one process run to completion; its stdout and stderr appended to out_path."""
    actions = [(os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    began = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - began) * 1000
    assert os.waitstatus_to_exitcode(status) == 0, f"{argv} exited with {status}"
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def peak_rss(argv: list[str], env: dict, stdin_path: str, out_path: str) -> float | None:
    """Peak RSS (MiB) of one run, measured by GNU time; None without it."""
    if not os.access(GNU_TIME, os.X_OK):
        return None
    report = out_path + ".rss"
    measure([GNU_TIME, "-f", "%M", "-o", report, *argv], env, stdin_path, out_path)
    return int(Path(report).read_text().split()[-1]) / 1024  # KiB


def wait_for_delivery(data_dir: Path) -> None:
    """The delivery process holds drain.lock until the spool is empty or delivery must wait."""
    fd = os.open(data_dir / "hook-spool" / "drain.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def spool_one(data_dir: Path, tool_use_id: str) -> None:
    """Queue one event as the hook does, without starting a delivery process."""
    from datetime import datetime, timezone

    from fortium_metrics.hooks import to_event
    from fortium_metrics.mcp.spool import Spool

    spool = Spool(data_dir / "hook-spool")
    with spool.hold():
        spool.append([to_event({**PAYLOAD, "tool_use_id": tool_use_id}, datetime.now(timezone.utc))])


def count_tool_events(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM metric_events WHERE kind = 'tool_execution'").fetchone()[0]


def pending_batches(data_dir: Path) -> int:
    spool = data_dir / "hook-spool" / "spool.jsonl"
    offset_file = data_dir / "hook-spool" / "spool.offset"
    offset = int(offset_file.read_text()) if offset_file.exists() else 0
    return sum(1 for line in spool.read_bytes()[offset:].splitlines() if line.strip()) if spool.exists() else 0


def start_server(tmp: Path) -> tuple[subprocess.Popen, str, str]:
    """`fortium-metrics serve` in its own process, and an API key made with the CLI."""
    env = {**os.environ, "FORTIUM_DATA_DIR": str(tmp / "server"), "FORTIUM_RATE_LIMIT": "off"}
    run = lambda *args: subprocess.run([CLI, *args], env=env, check=True, capture_output=True, text=True).stdout  # noqa: E731
    run("org", "create", "Bench", "--slug", "bench")
    run("user", "create", "--org", "bench", "--email", "bench@example.test")
    key = run("apikey", "create", "--org", "bench", "--name", "bench", "--user", "bench@example.test").strip()
    port = free_port()
    server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}", key
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("fortium-metrics serve did not start")
            time.sleep(0.1)


def summary(label: str, runs: list[tuple[float, float]], rss: list[float | None], base_ms: float | None) -> str:
    walls = sorted(r[0] for r in runs)
    median = statistics.median(walls)
    p90 = statistics.quantiles(walls, n=10)[-1] if len(walls) > 1 else walls[0]
    cpu = statistics.median(r[1] for r in runs)
    peak = max(rss) if rss and None not in rss else None
    shown = f"{peak:5.1f} MiB" if peak is not None else "  n/a    "
    line = f"{label:<26} median {median:6.1f} ms  p90 {p90:6.1f} ms  CPU {cpu:6.1f} ms  peak RSS {shown}"
    if base_ms is None:
        return line
    ratio = median / base_ms
    met = median <= TARGET_MS and ratio <= TARGET_RATIO and peak is not None and peak <= TARGET_MIB
    return f"{line}  {ratio:4.1f}x baseline  {'PASS' if met else 'MISS'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="timed calls per set-up (after 3 warm-up calls)")
    parser.add_argument("--rss-runs", type=int, default=10, help="calls per set-up through GNU time for the peak RSS")
    parser.add_argument("--drain-runs", type=int, default=5, help="synchronous delivery runs measured per set-up")
    args = parser.parse_args()
    warmup = 3
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; {args.runs} timed runs per set-up; {CLI}")
    with tempfile.TemporaryDirectory(prefix="fortium-bench-hook-") as tmp_dir:
        tmp = Path(tmp_dir)
        server, url, key = start_server(tmp)
        try:
            run_all(tmp, url, key, args.runs, args.rss_runs, args.drain_runs, warmup)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run_all(tmp: Path, url: str, key: str, runs: int, rss_runs: int, drain_runs: int, warmup: int) -> None:
    # Without PYTHONDONTWRITEBYTECODE: the warm-up calls write the byte-code caches, as the first
    # call does on a user's machine (pip compiles them at install); else every call compiles.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_") and k != "PYTHONDONTWRITEBYTECODE"}
    setups = {
        "hook embedded": (tmp / "embedded", {}),
        "hook forwarder, down": (tmp / "down", {"FORTIUM_API_URL": f"http://127.0.0.1:{free_port()}", "FORTIUM_API_KEY": key}),
        "hook forwarder, up": (tmp / "up", {"FORTIUM_API_URL": url, "FORTIUM_API_KEY": key}),
    }
    commands = {"python -c pass": ([sys.executable, "-c", "pass"], clean)}
    commands.update({label: ([CLI, "hook"], {**clean, "FORTIUM_DATA_DIR": str(d), **extra})
                     for label, (d, extra) in setups.items()})
    timed: dict[str, list] = {label: [] for label in commands}
    rss: dict[str, list] = {label: [] for label in commands}
    out, stdin = str(tmp / "output"), tmp / "stdin.json"
    calls = warmup + runs + rss_runs
    for n in range(calls):  # interleaved: the machine's load changes from second to second
        stdin.write_text(json.dumps({**PAYLOAD, "tool_use_id": f"toolu_bench_{n:05d}"}))
        for label, (argv, env) in commands.items():
            if n < warmup:
                measure(argv, env, str(stdin), out)
            elif n < warmup + runs:
                timed[label].append(measure(argv, env, str(stdin), out))
            else:
                rss[label].append(peak_rss(argv, env, str(stdin), out))
    base = statistics.median(r[0] for r in timed["python -c pass"])
    for label in commands:
        print(summary(label if label in setups else f"{label} (baseline)", timed[label], rss[label],
                      base if label in setups else None))

    for data_dir, _ in setups.values():
        wait_for_delivery(data_dir)
    delivered = {"embedded": count_tool_events(tmp / "embedded" / "fortium.db"),
                 "server up": count_tool_events(tmp / "server" / "fortium.db"),
                 "server down (still queued)": pending_batches(tmp / "down")}
    verdict = "ok" if set(delivered.values()) == {calls} else "MISMATCH"
    print(f"events: {calls} per set-up; " + ", ".join(f"{k} {v}" for k, v in delivered.items()) + f": {verdict}")

    if drain_runs:
        report_drains(setups, commands, drain_runs, out)
    if Path(out).exists() and Path(out).stat().st_size:
        print(f"MISMATCH: something was printed: {Path(out).read_text()[:500]!r}")


def report_drains(setups: dict, commands: dict, drain_runs: int, out: str) -> None:
    print("background delivery of one spooled event (`hook --drain --linger 0`; not on Claude Code's path):")
    for label, (data_dir, _) in setups.items():
        drains = []
        argv, env = [CLI, "hook", "--drain", "--linger", "0"], commands[label][1]
        for n in range(drain_runs):
            spool_one(data_dir, f"toolu_drain_{n:05d}")
            drains.append(measure(argv, env, os.devnull, out))
        spool_one(data_dir, "toolu_drain_rss")
        print(summary(f"  drain, {label[5:]}", drains, [peak_rss(argv, env, os.devnull, out)], None))


if __name__ == "__main__":
    main()
