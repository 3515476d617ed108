"""Import benchmark: `fortium-metrics import transcripts|legacy` on a generated tree, end to end
(a real CLI process: parser, store processes, ingestion, the database), into a fresh SQLite file
and a throw-away PostgreSQL database, against a baseline measured in the same run:

- transcripts: ccusage (`bench/ccusage`, pinned 20.0.24; `npm ci` there first) reading the same
  tree: `CLAUDE_CONFIG_DIR=<home>/.claude ccusage claude daily --json --offline`; target ≤ 1.0×;
- legacy: reading every file and `json.loads` of every record (the floor of any importer); target
  1,000,000 records in ≤ 60 s.

    .venv/bin/python bench/bench_import.py --importer transcripts --records 1000000 --rounds 3
    .venv/bin/python bench/bench_import.py --importer legacy --records 1000000 --rounds 3

Each round runs the baseline and then every backend, and prints each time, the ratio, the CPU
seconds of the import's processes (the database server's not included) and the import's peak RSS
(its largest process: the CLI or a store process). The trees are generated
by bench/gen_records.py / bench/gen_legacy.py into --data (kept and reused while the manifest
matches). PostgreSQL: a database is created, migrated as the owner, used through the non-owner
role fortium_app (RLS in force) and dropped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import gen_legacy  # noqa: E402
import gen_records  # noqa: E402

from fortium_metrics import orgs, users  # noqa: E402
from fortium_metrics.config import load_settings  # noqa: E402
from fortium_metrics.context import AppContext  # noqa: E402
from fortium_metrics.principal import Principal  # noqa: E402
from fortium_metrics.store import migrate  # noqa: E402

APP_ROLE = "fortium_app"
CCUSAGE = BENCH / "ccusage" / "node_modules" / ".bin" / "ccusage"
USER = "bench@example.test"


def dataset(importer: str, data: Path, records: int, seed: int) -> tuple[Path, dict]:
    """(the path to import, the manifest); generated unless a matching one is there."""
    home = data / f"{importer}-{records}-{seed}"
    manifest_file = home.parent / f"{home.name}.manifest.json"
    target = home / ".claude" / "projects" if importer == "transcripts" else home
    if manifest_file.exists():
        return target, json.loads(manifest_file.read_text())
    shutil.rmtree(home, ignore_errors=True)
    target.mkdir(parents=True)
    began = time.perf_counter()
    if importer == "transcripts":
        manifest = gen_records.generate(target, records, seed)
        manifest_file.write_text(json.dumps(manifest))
    else:
        manifest = gen_legacy.generate(home, records, seed)
    print(f"generated {records:,} {importer} records ({manifest['bytes'] / 1e6:,.0f} MB, {manifest['files']:,} files) "
          f"in {time.perf_counter() - began:.1f} s")
    return target, manifest


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the process and its children, peak RSS in MB of the largest
    process of the tree, stdout). CPU is what a busy shared machine changes least."""
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode()
        if process.returncode != 0:
            raise RuntimeError(f"{command[0]} exited {process.returncode}: {stderr[-2000:]}")
        out.seek(0)
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, out.read().decode()


def ccusage(target: Path) -> tuple[float, float]:
    if not CCUSAGE.exists():
        sys.exit(f"ccusage is not installed: cd {BENCH / 'ccusage'} && npm ci")
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(target.parent)}  # it reads <CLAUDE_CONFIG_DIR>/projects
    seconds, cpu, _, out = timed([str(CCUSAGE), "claude", "daily", "--json", "--offline"], env)
    assert json.loads(out)["daily"], "ccusage found no usage: is CLAUDE_CONFIG_DIR right?"
    return seconds, cpu


def read_and_decode(target: Path) -> tuple[float, float]:
    """Every data file read and every record decoded with json.loads: the floor of any importer."""
    began, cpu = time.perf_counter(), time.process_time()
    for path in target.rglob("*"):
        if path.suffix == ".json" and path.is_file():
            json.loads(path.read_bytes())
        elif path.suffix == ".jsonl" and path.is_file():
            with path.open("rb") as handle:
                for raw in handle:
                    try:
                        json.loads(raw)
                    except ValueError:
                        pass
    return time.perf_counter() - began, time.process_time() - cpu


class Database:
    """A fresh, migrated database with an organisation and a user; `url` is what the service uses."""

    def __init__(self, backend: str, tmp: Path, pg_admin_url: str) -> None:
        self.drop = lambda: None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}"
            migrate.upgrade(self.url)
        else:
            owner, self.url, self.drop = postgres_database(pg_admin_url)
            migrate.upgrade(owner, "head", APP_ROLE)
        self.slug = f"bench-{uuid.uuid4().hex[:8]}"
        asyncio.run(self._people(tmp))

    async def _people(self, tmp: Path) -> None:
        ctx = AppContext.build(load_settings(database_url=self.url, data_dir=tmp / "data"))
        try:
            async with ctx.store.unit_of_work(Principal.system("bench")) as uow:
                org = await orgs.create_organization(uow, "Bench", self.slug)
            async with ctx.store.unit_of_work(Principal.org_admin(org.id)) as uow:
                await users.create_user(uow, USER, "Bench", "developer")
        finally:
            await ctx.close()


def postgres_database(admin_url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    plain = lambda u: u.set(drivername="postgresql").render_as_string(hide_password=False)  # noqa: E731
    name = f"fortium_bench_{uuid.uuid4().hex[:10]}"

    def run(sql: str) -> None:
        with psycopg.connect(plain(admin), autocommit=True) as conn:
            conn.execute(sql)

    run(f'CREATE DATABASE "{name}"')
    owner = plain(admin.set(database=name))
    app = plain(admin.set(database=name, username=APP_ROLE, password=None))
    return owner, app, lambda: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def import_into(importer: str, target: Path, db: Database, tmp: Path,
                workers: int | None) -> tuple[float, float, int, dict]:
    command = [str(Path(sys.executable).parent / "fortium-metrics"), "--database-url", db.url, "--data-dir",
               str(tmp / "data"), "import", importer, str(target), "--org", db.slug, "--user", USER, "--json",
               "--no-progress"] + (["--workers", str(workers)] if workers else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORTIUM_")}
    seconds, cpu, rss, out = timed(command, env)
    return seconds, cpu, rss, json.loads(out)


def check(report: dict, manifest: dict, importer: str) -> str:
    """'ok' when the import reports exactly what the generator wrote."""
    if importer == "transcripts":
        want = {"records_read": manifest["records"], "events_imported": manifest["events"], "records_rejected": 0}
    else:
        want = {"records_read": manifest["records"], "events_imported": manifest["events"],
                "records_duplicates": manifest["duplicates"], "records_ignored": manifest["ignored"],
                "records_rejected": manifest["rejected"]}
    wrong = {k: (report[k], v) for k, v in want.items() if report[k] != v}
    return "ok" if not wrong and report["events_rejected"] == 0 else f"MISMATCH (got, want): {wrong}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--importer", choices=("transcripts", "legacy"), default="transcripts")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "fortium-bench-import")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=None, help="--workers of the import (default: its own)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("FORTIUM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    target, manifest = dataset(args.importer, args.data, args.records, args.seed)
    print(f"dataset: {manifest['records']:,} {args.importer} records, {manifest['bytes'] / 1e6:,.0f} MB in "
          f"{manifest['files']:,} files -> {manifest['events']:,} events; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    baseline_name = "ccusage 20.0.24" if args.importer == "transcripts" else "read + json.loads"
    baseline = (lambda: ccusage(target)) if args.importer == "transcripts" else (lambda: read_and_decode(target))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    ratios: dict[str, list[float]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory(prefix="fortium-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        for round_ in range(1, args.rounds + 1):
            base, base_cpu = baseline()
            print(f"round {round_} (load {os.getloadavg()[0]:.1f}): {baseline_name:<20} {base:7.1f} s, "
                  f"CPU {base_cpu:.1f} s")
            for backend in backends:
                db = Database(backend, tmp, args.pg_admin_url)
                try:
                    seconds, cpu, rss, report = import_into(args.importer, target, db, tmp, args.workers)
                finally:
                    db.drop()
                ratios[backend].append(seconds / base)
                per_million = seconds * 1_000_000 / manifest["records"]
                print(f"  import into {backend:<10} {seconds:7.1f} s  x{seconds / base:.2f} of {baseline_name}  "
                      f"{manifest['records'] / seconds:>9,.0f} records/s  {per_million:5.0f} s per 1M records  "
                      f"CPU {cpu:.1f} s (x{cpu / base_cpu:.1f})  peak RSS {rss:,} MB  "
                      f"[{check(report, manifest, args.importer)}]")
    for backend, values in ratios.items():
        print(f"{backend}: ratio median x{statistics.median(values):.2f}, spread x{min(values):.2f}-x{max(values):.2f} "
              f"over {len(values)} round(s)")


if __name__ == "__main__":
    main()
