"""Live updates and layouts of one's own in a real browser (Chromium): the header says "Live" and an
ingest makes the page receive `fortium:refresh` (the event widgets refetch on); a dragged widget
stays where it was left after saving and reloading. Fixtures: tests/test_browser.py."""
from __future__ import annotations

import pytest

from test_browser import browser, page, sign_in, site  # noqa: F401 (fixtures)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

LISTEN = """() => { window.refreshes = [];
  document.addEventListener('fortium:refresh', (event) => window.refreshes.push(event.detail)); }"""
INGEST = """async () => {
  const csrf = document.cookie.split('; ').find((c) => c.startsWith('fm_csrf=')).split('=')[1];
  const response = await fetch('/api/v1/metrics/batch', {method: 'POST', credentials: 'same-origin',
    headers: {'content-type': 'application/json', 'x-csrf-token': csrf},
    body: JSON.stringify({events: [{type: 'task', task_name: 'browser', event_id: 'browser-live-1'}]})});
  return response.status; }"""


def test_an_ingest_reaches_the_page_as_a_refresh_event(page, site):  # noqa: F811
    sign_in(page, site, site.admin)
    page.wait_for_url("**/overview")
    page.evaluate(LISTEN)
    page.wait_for_selector("[data-live-indicator][data-state=live]")
    assert page.text_content("[data-live-label]").strip() == "Live"
    assert page.evaluate(INGEST) == 200
    page.wait_for_function("window.refreshes.length > 0")
    detail = page.evaluate("window.refreshes[0]")
    assert detail["reason"] == "metric_ingested" and detail["organization_id"]


CREATE = """async (layout) => {
  const csrf = document.cookie.split('; ').find((c) => c.startsWith('fm_csrf=')).split('=')[1];
  const response = await fetch('/api/dashboards', {method: 'POST', credentials: 'same-origin',
    headers: {'content-type': 'application/json', 'x-csrf-token': csrf}, body: JSON.stringify(layout)});
  return (await response.json()).id; }"""
LAYOUT = {"name": "Dragged", "widgets": [
    {"id": "tiles", "title": "Figures", "chart": "tiles", "measures": ["sessions"], "x": 0, "y": 0, "w": 12, "h": 2},
    {"id": "models", "title": "Cost by model", "chart": "bar", "measures": ["cost_usd"], "group_by": ["model"],
     "x": 0, "y": 2, "w": 6, "h": 4}]}
PLACE = "el => ['gs-x', 'gs-y', 'gs-w', 'gs-h'].map(name => Number(el.getAttribute(name)))"


def test_a_dragged_widget_is_where_it_was_left_after_saving_and_reloading(page, site):  # noqa: F811
    sign_in(page, site, site.admin)
    page.wait_for_url("**/overview")
    dashboard = page.evaluate(CREATE, LAYOUT)
    page.goto(f"{site.url}/dashboards/{dashboard}")
    widget = "[gs-id=models]"
    page.wait_for_selector(f"{widget} .grid-widget-header")
    assert page.eval_on_selector(widget, PLACE) == [0, 2, 6, 4]
    header = page.locator(f"{widget} .grid-widget-header").bounding_box()
    grid = page.locator("[data-grid]").bounding_box()
    page.mouse.move(header["x"] + 40, header["y"] + header["height"] / 2)
    page.mouse.down()
    page.mouse.move(header["x"] + 40 + grid["width"] / 2, header["y"] + header["height"] / 2, steps=20)
    page.mouse.up()
    page.wait_for_function(f"document.querySelector('{widget}').getAttribute('gs-x') === '6'")
    moved = page.eval_on_selector(widget, PLACE)
    page.click("[data-grid-save]")
    page.wait_for_function("document.querySelector('[data-grid-status]').textContent === 'Saved'")
    page.reload()
    page.wait_for_selector(f"{widget} .grid-widget-header")
    assert page.eval_on_selector(widget, PLACE) == moved and moved[0] == 6
