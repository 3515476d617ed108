"""End to end in real browsers against the real app under uvicorn: Chromium (Playwright) for
the flows, Firefox ESR (puppeteer-core, WebDriver BiDi) for the sign-in smoke test. Skipped with
the reason when no browser is installed; never skipped in CI (tests/browser_support.py)."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import FRONTEND, built_front_end, firefox_path, launch_chromium, unavailable
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.demo import DEMO_PASSWORD, Person, fill_demo

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # pages do not depend on the database


@dataclass
class Site:
    url: str
    admin: Person
    developer: Person


@pytest.fixture(scope="module")
def browser():
    built_front_end()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright)
    except Exception as error:  # a broken install says so instead of erroring every test
        playwright.stop()
        unavailable(f"Chromium did not start: {error}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def site(backend, live_server, tmp_path) -> Site:
    async def fill():
        ctx = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "demo"))
        try:
            # admin, manager, 4 leads, a member; two days so that a run just after midnight finds every team active
            return await fill_demo(ctx, "browser-org", days=2, people=7, seed=5)
        finally:
            await ctx.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps an event loop in this thread
        cast = pool.submit(asyncio.run, fill()).result().people
    developer = next(p for p in cast if p.role == "developer" and not p.lead)
    return Site(live_server.url, cast[0], developer)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context.new_page()
    context.close()


def sign_in(page, site: Site, who: Person, password: str = DEMO_PASSWORD, path: str = "/login") -> None:
    page.goto(site.url + path)
    page.fill("#email", who.email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[method=post] button[type=submit]")


SETTLED = "(ws => ws.length > 0 && ws.every(w => w.dataset.state !== 'loading'))([...document.querySelectorAll('[data-widget]')])"


def nav_keys(page) -> list[str]:
    return page.eval_on_selector_all("[data-nav]", "links => links.map(link => link.dataset.nav)")


def test_a_wrong_password_is_shown_then_the_right_one_signs_in(page, site):
    sign_in(page, site, site.admin, password="not-the-password")
    assert page.text_content("#password-error").strip() == "Wrong e-mail or password."
    assert page.get_attribute("#password", "aria-invalid") == "true"
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[method=post] button[type=submit]")
    page.wait_for_url("**/overview")
    assert page.text_content("[data-user-name]").strip() == site.admin.name
    assert page.text_content("[data-user-role]").strip() == "admin"
    assert nav_keys(page) == ["overview", "team", "me", "models", "tools", "projects", "sessions", "dashboards",
                              "connect", "admin"]


def test_a_developer_sees_no_admin_and_is_refused_it(page, site):
    sign_in(page, site, site.developer)
    assert page.text_content("[data-user-role]").strip() == "developer"
    assert "admin" not in nav_keys(page)
    response = page.goto(site.url + "/admin")
    assert response.status == 403 and "Not allowed" in page.text_content("h1")


def test_signing_in_returns_to_the_page_asked_for(page, site):
    page.goto(site.url + "/models?range=7d")
    assert "/login?next=" in page.url
    page.fill("#email", site.admin.email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[method=post] button[type=submit]")
    page.wait_for_url("**/models?range=7d")


def test_a_filter_change_lands_in_the_url_survives_reload_and_is_remembered(page, site):
    sign_in(page, site, site.admin)
    page.select_option("#filter-team", "payments")
    page.wait_for_url(re.compile(r"team=payments"))
    page.select_option("#filter-granularity", "week")
    page.wait_for_url(re.compile(r"granularity=week"))
    assert "team=payments" in page.url
    page.reload()
    assert page.input_value("#filter-team") == "payments" and page.input_value("#filter-granularity") == "week"
    page.goto(site.url + "/overview")  # a visit without a filter gets the last one back
    page.wait_for_url(re.compile(r"team=payments"))
    page.click("[data-nav=team]")  # navigation keeps it
    page.wait_for_url(re.compile(r"/team\?.*team=payments"))


def test_widgets_end_in_a_clear_state_not_in_made_up_numbers(page, site):
    sign_in(page, site, site.admin)
    page.wait_for_function(SETTLED)
    states = set(page.eval_on_selector_all("[data-widget]", "ws => ws.map(w => w.dataset.state)"))
    assert states <= {"unavailable", "empty", "ready"}
    if states == {"unavailable"}:
        assert page.locator("text=No data yet").count() == page.locator("[data-widget]").count()


def _analytics_answer(route) -> None:
    """Stands in for GET /api/v1/analytics with a small answer in the documented shape (every
    cell 1, 2, 3...), so the drawing path is exercised end to end with known numbers."""
    query = parse_qs(urlsplit(route.request.url).query)
    measures = query["measures"][0].split(",")
    dimensions = query.get("group_by", [""])[0].split(",")
    keys = ["2026-11-01", "2026-11-02", "2026-11-03"] if dimensions[0] in ("day", "week", "month", "hour") else ["a", "b"]
    rows = [{dimensions[0]: key, **({dimensions[1]: "m"} if len(dimensions) > 1 else {}),
             **{m: float(i + 1) for m in measures}} for i, key in enumerate(keys)]
    body = {"rows": rows, "totals": {m: 10.0 for m in measures}, "previous": {m: 8.0 for m in measures}}
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body))


def test_widgets_draw_an_answer_with_its_table(page, site):
    page.route("**/api/v1/analytics?*", _analytics_answer)
    sign_in(page, site, site.admin)
    page.wait_for_function(SETTLED)
    assert set(page.eval_on_selector_all("[data-widget]", "ws => ws.map(w => w.dataset.state)")) == {"ready"}
    assert page.text_content(".kpi-value").strip() == "10" and "+25%" in page.text_content(".kpi-change")
    page.wait_for_selector("[data-widget=timeseries] .chart canvas")
    table = page.locator("[data-widget=timeseries] table.data-table").first
    assert table.locator("tbody tr").count() == 3 and table.locator("caption").text_content() == "Cost by model"
    team_table = page.locator("[data-widget=table] table.data-table")
    assert team_table.locator("tbody tr").count() == 2 and team_table.locator("thead th").first.text_content() == "Team"


def test_dark_mode_follows_the_system_and_the_toggle_sticks(browser, site):
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    sign_in(page, site, site.admin)
    background = "getComputedStyle(document.body).backgroundColor"
    dark = page.evaluate(background)
    assert page.get_attribute("[data-theme-toggle]", "aria-pressed") == "true"
    page.click("[data-theme-toggle]")
    assert page.evaluate(background) != dark and page.get_attribute("html", "data-theme") == "light"
    page.reload()
    assert page.get_attribute("html", "data-theme") == "light" and page.evaluate(background) != dark
    context.close()


def test_the_keyboard_reaches_the_content_first(page, site):
    sign_in(page, site, site.admin)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_a_phone_needs_no_sideways_scrolling(browser, site):
    context = browser.new_context(viewport={"width": 360, "height": 780})
    page = context.new_page()
    sign_in(page, site, site.developer)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.is_visible("[data-user-role]") and page.is_visible("[data-nav=overview]")
    context.close()


def test_signing_out_ends_the_session(page, site):
    sign_in(page, site, site.admin)
    page.click("form[action='/api/auth/signout'] button")
    page.wait_for_url("**/login?**signed_out=1")
    assert "You are signed out." in page.text_content("[role=status]")
    page.goto(site.url + "/overview")
    assert "/login" in page.url


def test_firefox_signs_in_and_out(site):
    built_front_end()
    firefox = firefox_path()
    node = shutil.which("node")
    if node is None or not (FRONTEND / "node_modules" / "puppeteer-core").is_dir():
        unavailable("the Firefox test needs Node.js and frontend/node_modules (python3 dev.py test installs them)")
    done = subprocess.run([node, "e2e/firefox-smoke.mjs", site.url, site.admin.email, DEMO_PASSWORD, firefox],
                          cwd=FRONTEND, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["wrongPassword"] == "Wrong e-mail or password."
    assert seen["afterSignIn"] == "/overview" and seen["user"] == site.admin.name and seen["role"] == "admin"
    assert seen["widgetState"] in {"unavailable", "empty", "ready"}
    assert seen["sessionsListed"] > 0 and seen["timelineItems"] > 0
    assert seen["afterSignOut"] == "/login" and seen["overviewWhenSignedOut"] == "/login"
