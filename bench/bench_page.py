"""Overview page benchmark: how long after navigation the overview draws its first chart, in
headless Chromium, on a large store, against the same page on a small organisation measured in
the same run (the baseline: the browser, the server and the page's own cost with next to no data).

    .venv/bin/python bench/bench_page.py --events 10000000 --data /tmp/fortium-bench-page

The store is SQLite (the default deployment), built as bench/bench_analytics.py builds its own:
`--events` events over 90 days for 150 people in 8 teams (written straight into metric_events,
then the rollups built by the `rollups` job's `rebuild`), plus a baseline organisation with 1,000.
The file is kept in --data and reused while its manifest matches. The app is served by uvicorn in
this process; each organisation's admin signs in once, then the overview (last 30 days, by day)
is loaded `--runs` times per organisation, alternating, with a warm browser cache as a returning
user has. Measured in the page (performance.now(), from navigation start): the first chart's
canvas in the DOM, and every widget settled. Target (issue #14): first chart ≤ 1 s on 10M events.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_analytics import build, load_sqlite  # noqa: E402  (bench/ is the script's folder)
from browser_support import launch_chromium  # noqa: E402
from fortium_metrics import orgs, users  # noqa: E402
from fortium_metrics.accounts import set_password  # noqa: E402
from fortium_metrics.app import create_app  # noqa: E402
from fortium_metrics.config import load_settings  # noqa: E402
from fortium_metrics.principal import Principal  # noqa: E402
from fortium_metrics.store import migrate  # noqa: E402
from fortium_metrics.store.engine import create_engine  # noqa: E402
from fortium_metrics.store.uow import Store  # noqa: E402

PASSWORD = "bench page password"
BASELINE_EVENTS = 1_000
OVERVIEW = "/overview?range=30d&granularity=day"
# Set before the page's own script runs: the moment a chart's canvas appears.
FIRST_CHART = """window.__firstChart = null;
new MutationObserver((_, observer) => {
  if (document.querySelector('.chart canvas')) { window.__firstChart = performance.now(); observer.disconnect(); }
}).observe(document, { subtree: true, childList: true });"""
SETTLED = ("(ws => ws.length > 0 && ws.every(w => w.dataset.state !== 'loading'))"
           "([...document.querySelectorAll('[data-widget]')])")


def admin_email(slug: str) -> str:
    return f"admin@{slug}.bench.test"


async def prepare(path: Path, events: int) -> None:
    manifest = path.with_suffix(".json")
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    wanted = {"events": events, "end": end.date().isoformat()}
    if manifest.exists() and json.loads(manifest.read_text()) == wanted:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    migrate.upgrade(f"sqlite:///{path}")
    store = Store(create_engine(f"sqlite:///{path}"))
    load = lambda org, stream: asyncio.to_thread(load_sqlite, path, org, stream)  # noqa: E731
    for slug, count, seed in (("measured", events, 1), ("baseline", BASELINE_EVENTS, 4)):
        org = await build(store, slug, load, count, end, seed)
        async with store.unit_of_work(Principal.org_admin(org)) as uow:
            await users.create_user(uow, admin_email(slug), f"Admin {slug}", "admin")
            await set_password(uow, admin_email(slug), PASSWORD)
    await store.dispose()
    manifest.write_text(json.dumps(wanted))


async def organisation_sizes(path: Path) -> dict[str, int]:
    from sqlalchemy import func, select

    from fortium_metrics.store.models import MetricEvent

    store = Store(create_engine(f"sqlite:///{path}"))
    sizes = {}
    async with store.unit_of_work(Principal.system("bench")) as uow:
        for org in await orgs.list_organizations(uow):
            sizes[org.slug] = await uow.session.scalar(
                select(func.count()).select_from(MetricEvent).where(MetricEvent.organization_id == org.id))
    await store.dispose()
    return sizes


def serve(path: Path) -> tuple[uvicorn.Server, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(database_url=f"sqlite:///{path}", data_dir=path.parent, port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sys.exit("the server did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def signed_in(browser, base: str, slug: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(FIRST_CHART)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#email", admin_email(slug))
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[method=post] button[type=submit]")
    return context, page


def one_load(page, base: str) -> tuple[float, float]:
    page.goto(base + OVERVIEW)
    page.wait_for_function("window.__firstChart !== null", timeout=120_000)
    page.wait_for_function(SETTLED, timeout=120_000)
    return page.evaluate("window.__firstChart"), page.evaluate("performance.now()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=9, help="Timed loads per organisation (after one warm-up).")
    parser.add_argument("--data", type=Path, default=Path("/tmp/fortium-bench-page"))
    args = parser.parse_args()
    path = args.data / "page.db"
    began = time.perf_counter()
    asyncio.run(prepare(path, args.events))
    print(f"store ready in {time.perf_counter() - began:.0f} s: "
          f"{', '.join(f'{k} {v:,} events' for k, v in asyncio.run(organisation_sizes(path)).items())}", flush=True)
    server, base = serve(path)
    found: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        pages = {slug: signed_in(browser, base, slug) for slug in ("baseline", "measured")}
        for slug, (_, page) in pages.items():
            one_load(page, base)  # warm-up: the browser's cache, the server's first queries
            found[slug] = {"first chart": [], "settled": []}
        for _ in range(args.runs):  # alternating, so both see the same machine
            for slug, (_, page) in pages.items():
                first, settled = one_load(page, base)
                found[slug]["first chart"].append(first)
                found[slug]["settled"].append(settled)
        browser.close()
    server.should_exit = True
    print(f"\noverview, last 30 days, {args.runs} loads each (ms from navigation start)")
    print(f"{'organisation':<14} {'first chart p50':>16} {'max':>8} {'all settled p50':>16} {'max':>8}")
    for slug, times in found.items():
        first, settled = times["first chart"], times["settled"]
        print(f"{slug:<14} {statistics.median(first):>13.0f} ms {max(first):>5.0f} ms "
              f"{statistics.median(settled):>13.0f} ms {max(settled):>5.0f} ms")
    ratio = statistics.median(found["measured"]["first chart"]) / statistics.median(found["baseline"]["first chart"])
    print(f"first chart, measured / baseline: {ratio:.2f}x; target ≤ 1,000 ms: "
          f"{'met' if statistics.median(found['measured']['first chart']) <= 1000 else 'missed'}")


if __name__ == "__main__":
    main()
