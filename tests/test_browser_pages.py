"""The data pages in a real browser (Chromium) on demo data, with the real analytics service:
filtering by team narrows what the charts and tables show, a session's timeline opens from the
list and its kinds of events can be hidden, a tile changes after an ingest without a reload, and
tables are reachable by keyboard. Fixtures: tests/test_browser.py."""
from __future__ import annotations

import re

import pytest

from test_browser import SETTLED, browser, page, sign_in, site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

INGEST = """async (events) => {
  const csrf = document.cookie.split('; ').find((c) => c.startsWith('fm_csrf=')).split('=')[1];
  const response = await fetch('/api/v1/metrics/batch', {method: 'POST', credentials: 'same-origin',
    headers: {'content-type': 'application/json', 'x-csrf-token': csrf}, body: JSON.stringify({events})});
  return response.status; }"""
TILE = """name => [...document.querySelectorAll('.kpi')].find(tile => tile.querySelector('dt').textContent === name)
  ?.querySelector('.kpi-value').textContent"""
TEAMS = "[data-title='Teams compared'] tbody th"


def test_filtering_by_team_narrows_the_team_comparison(page, site):  # noqa: F811
    sign_in(page, site, site.admin)
    page.wait_for_function(SETTLED)
    page.wait_for_selector(TEAMS)
    every = page.eval_on_selector_all(TEAMS, "cells => cells.map(cell => cell.textContent)")
    assert len(every) > 1
    page.select_option("#filter-team", every[0])
    page.wait_for_url(re.compile(rf"team={every[0]}"))
    page.wait_for_function(SETTLED)
    page.wait_for_selector(TEAMS)
    assert page.eval_on_selector_all(TEAMS, "cells => cells.map(cell => cell.textContent)") == [every[0]]


def test_a_session_s_timeline_opens_from_the_list(page, site):  # noqa: F811
    sign_in(page, site, site.admin, path="/login?next=/sessions")
    page.wait_for_url("**/sessions")
    listed = page.locator("[data-session-link]").count()
    assert listed > 0
    page.locator("[data-session-link]").first.focus()  # by keyboard
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/sessions/[^/?]+", page.url)
    items = page.locator(".timeline-item")
    tools = page.locator(".timeline-item[data-kind=tool]").count()
    assert items.count() > 0 and tools > 0
    page.locator("[data-timeline-kinds] input[value=tool]").uncheck()
    assert page.locator(".timeline-item[data-kind=tool]:visible").count() == 0
    assert page.locator(".timeline-item:visible").count() == items.count() - tools


def test_a_tile_changes_after_an_ingest_without_a_reload(page, site):  # noqa: F811
    sign_in(page, site, site.admin)
    page.wait_for_function(SETTLED)
    page.wait_for_selector("[data-live-indicator][data-state=live]")
    before = page.evaluate(TILE, "Prompts")
    page.evaluate("window.notReloaded = true")
    assert page.evaluate(INGEST, [{"type": "prompt", "prompt_length": 10, "event_id": f"browser-prompt-{i}"}
                                  for i in range(3)]) == 200
    page.wait_for_function(f"({TILE})('Prompts') !== {before!r}", timeout=5000)
    assert int(page.evaluate(TILE, "Prompts").replace(",", "")) == int(before.replace(",", "")) + 3
    assert page.evaluate("window.notReloaded") is True


def test_a_wide_table_scrolls_by_keyboard_on_a_phone(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 360, "height": 780})
    phone = context.new_page()
    sign_in(phone, site, site.admin)
    phone.wait_for_function(SETTLED)
    region = phone.locator("[data-title='Teams compared'] .table-scroll")
    region.focus()
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")  # wider than the phone: it scrolls...
    phone.keyboard.press("ArrowRight")
    phone.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle())
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # ...the page does not
    context.close()


def test_the_sessions_pages_fit_a_phone(browser, site):  # noqa: F811
    context = browser.new_context(viewport={"width": 360, "height": 780})
    phone = context.new_page()
    sign_in(phone, site, site.admin, path="/login?next=/sessions")
    phone.wait_for_url("**/sessions")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    with phone.expect_navigation():
        phone.click("[data-session-link]")
    assert phone.locator(".timeline-item").count() > 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()
