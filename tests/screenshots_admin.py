"""Screenshots of the administration pages and "Connect Claude Code" for docs/screenshots/
(desktop 1440 px and phone 360 px, light and dark), on a fresh demo organisation. Not a test:
run it after changing how these pages look.

    .venv/bin/python tests/screenshots_admin.py [OUTPUT_DIR]     (default docs/screenshots)
"""
from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from browser_support import launch_chromium
from screenshots import SIZES, demo_site, sign_in

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
    with demo_site(3) as (base, cast):
        admin = cast[0]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for scheme in ("light", "dark"):
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
                    page = context.new_page()
                    sign_in(page, base, admin.email)
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
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "screenshots")
