"""Screenshots of every dashboard page for docs/screenshots/, on a fresh demo organisation: sign-in
and overview on a phone (360 px) and a desktop (1440 px), light and dark; every other page on a
desktop in light (and the Me page as a team member, the timeline of the newest session). Not a
test: run it after changing how pages look.

    .venv/bin/python tests/screenshots.py [OUTPUT_DIR]     (default docs/screenshots)
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from browser_support import launch_chromium
from test_browser import SETTLED
from fortium_metrics import migrate_if_sqlite
from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.demo import DEMO_PASSWORD, fill_demo

SIZES = {"phone": (360, 780), "desktop": (1440, 900)}
DAYS = 60
PAGES = ("team", "models", "tools", "projects", "sessions", "dashboards/default")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(settings) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sys.exit("the server did not start")
        time.sleep(0.05)
    return server


def _settle(page) -> None:
    page.wait_for_timeout(700)  # charts draw in the frame after their data arrives (and animate)


@contextlib.contextmanager
def demo_site(days: int):
    """A fresh demo organisation ("acme", 30 people over `days` days) served on a free port while
    the block runs: (its base URL, its people)."""
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(data_dir=Path(data), port=_free_port())
        migrate_if_sqlite(settings)

        async def fill():
            ctx = AppContext.build(settings)
            try:
                return await fill_demo(ctx, "acme", days=days, people=30, seed=1)
            finally:
                await ctx.close()

        cast = asyncio.run(fill()).people
        server = _serve(settings)
        try:
            yield f"http://127.0.0.1:{settings.port}", cast
        finally:
            server.should_exit = True


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form[method=post] button[type=submit]")


def _every_page(page, base: str, out: Path) -> None:
    for name in PAGES:
        page.goto(base + "/" + name)
        if page.locator("[data-widget]").count():
            page.wait_for_function(SETTLED)
        _settle(page)
        if name.startswith("dashboards"):  # the grid draws its widgets itself
            page.wait_for_timeout(2500)
        page.screenshot(path=out / f"{name.split('/')[0]}-desktop-light.png", full_page=True)
    page.goto(base + "/sessions")
    page.click("[data-session-link]")
    page.screenshot(path=out / "session-desktop-light.png", full_page=True)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with demo_site(DAYS) as (base, cast):
        admin = cast[0]
        member = next(p for p in cast if p.role == "developer" and not p.lead and p.team)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for scheme in ("light", "dark"):
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
                    page = context.new_page()
                    page.goto(base + "/login")
                    page.screenshot(path=out / f"login-{size}-{scheme}.png")
                    page.fill("#email", admin.email)
                    page.fill("#password", DEMO_PASSWORD)
                    with page.expect_navigation():
                        page.click("form[method=post] button[type=submit]")
                    page.wait_for_function(SETTLED)
                    _settle(page)
                    page.screenshot(path=out / f"overview-{size}-{scheme}.png", full_page=size == "desktop")
                    if size == "desktop" and scheme == "light":
                        _every_page(page, base, out)
                    if size == "phone":
                        page.goto(base + "/sessions")
                        page.click("[data-session-link]")
                        page.screenshot(path=out / f"session-{size}-{scheme}.png")
                    context.close()
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            sign_in(page, base, member.email)
            page.goto(base + "/me")
            page.wait_for_function(SETTLED)
            _settle(page)
            page.screenshot(path=out / "me-desktop-light.png", full_page=True)
            context.close()
            browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "screenshots")
