"""Screenshots of the administration pages and "Connect Claude Code" for docs/screenshots/
(desktop 1440 px and phone 360 px, light and dark), on a fresh demo organisation. Not a test:
run it after changing how these pages look.

    .venv/bin/python tests/screenshots_admin.py [OUTPUT_DIR]     (default docs/screenshots)
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from browser_support import launch_chromium
from screenshots import SIZES, _free_port, _serve
from fortium_metrics import migrate_if_sqlite
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.demo import DEMO_PASSWORD, fill_demo

# (file name, path, what to do first): the new key shows its secret and snippets.
PAGES = [("admin-users", "/admin/users", None), ("admin-teams", "/admin/teams/payments", None),
         ("admin-keys", "/admin/keys", "key"), ("admin-settings", "/admin/settings", "error"),
         ("admin-sso", "/admin/sso", None), ("admin-audit", "/admin/audit", None), ("admin-projects", "/admin/projects", None),
         ("connect", "/connect", None)]


def _prepare(page, base: str, path: str, step: str | None) -> None:
    page.goto(base + path)
    if step == "key":
        page.fill("#create-name", "Alice's laptop")
        with page.expect_navigation():
            page.click("form[action='/admin/keys'] button[type=submit]")
    elif step == "error":
        page.fill("#settings-data_retention_days", "5000")
        with page.expect_navigation():
            page.click("form[data-settings] button[type=submit]")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(data_dir=Path(data), port=_free_port())
        migrate_if_sqlite(settings)

        async def fill():
            ctx = AppContext.build(settings)
            try:
                return await fill_demo(ctx, "acme", days=3, people=30, seed=1)
            finally:
                await ctx.close()

        admin = asyncio.run(fill()).people[0]
        server, base = _serve(settings), f"http://127.0.0.1:{settings.port}"
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for scheme in ("light", "dark"):
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
                    page = context.new_page()
                    page.goto(base + "/login")
                    page.fill("#email", admin.email)
                    page.fill("#password", DEMO_PASSWORD)
                    with page.expect_navigation():
                        page.click("form[method=post] button[type=submit]")
                    for name, path, step in PAGES:
                        _prepare(page, base, path, step)
                        page.screenshot(path=out / f"{name}-{size}-{scheme}.png", full_page=size == "desktop")
                    page.goto(base + "/admin/users")  # no SMTP server here: the page shows the link
                    page.fill("#invite-email", f"new.{scheme}.{size}@acme.example")
                    with page.expect_navigation():
                        page.click("form[action='/admin/users/invite'] button[type=submit]")
                    page.screenshot(path=out / f"admin-invited-{size}-{scheme}.png")
                    link = page.input_value("#invited-link")
                    page.context.clear_cookies()
                    page.goto(link)
                    page.screenshot(path=out / f"invite-accept-{size}-{scheme}.png")
                    context.close()
            browser.close()
        server.should_exit = True
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "screenshots")
