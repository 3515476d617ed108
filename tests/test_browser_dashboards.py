"""Live updates in a real browser (Chromium): the header says "Live", and an ingest makes the page
receive `fortium:refresh`, the event its widgets refetch on. Fixtures: tests/test_browser.py."""
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
