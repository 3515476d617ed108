"""/api/docs: the OpenAPI reference, browsable from assets the service serves itself (Swagger UI
from npm, bundled by frontend/build.mjs), never from another site."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from browser_support import built_front_end, launch_chromium, unavailable
from fortium_metrics.app import create_app
from fortium_metrics.config import load_settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the page does not read the database


class References(HTMLParser):
    """Every URL the page makes the browser load or link to: script src, link href, a href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"script", "img", "iframe"} and values.get("src"):
            self.loads.append(values["src"])
        if tag == "link" and values.get("href"):
            self.loads.append(values["href"])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])


def local(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc or parts.scheme == "data"


@pytest.fixture
def client(backend, tmp_path):
    with TestClient(create_app(load_settings(database_url=backend.url, data_dir=tmp_path / "d"))) as client:
        yield client


def test_the_page_loads_without_signing_in_and_references_only_local_assets(client):
    built_front_end()
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    refs = References()
    refs.feed(page.text)
    scripts_and_styles = [url for url in refs.loads if url.startswith("/static/")]
    assert any("api-docs.js" in url for url in scripts_and_styles) and any("api-docs-styles.css" in url for url in scripts_and_styles)
    assert all(local(url) for url in refs.loads + refs.links), refs.loads + refs.links
    for url in scripts_and_styles:  # each is served, and is what the build wrote
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    # The page names the document it draws, and that document is served.
    assert 'data-spec-url="/api/v1/openapi.json"' in page.text
    assert client.get("/api/v1/openapi.json").json()["paths"]["/api/docs"]["get"]["responses"]["200"]


def test_without_a_build_the_page_still_points_to_the_document(client, monkeypatch):
    from fortium_metrics.web.pages import templating

    monkeypatch.setattr(templating, "read_manifest", lambda path=templating.MANIFEST: {"assets": {}, "loads": {}})
    page = client.get("/api/docs")
    assert page.status_code == 200 and "<script" not in page.text
    assert 'href="/api/v1/openapi.json"' in page.text and "python3 dev.py serve" in page.text


def test_chromium_draws_every_operation_and_asks_nothing_of_another_site(live_server):
    built_front_end()
    from playwright.sync_api import sync_playwright

    document = __import__("httpx").get(live_server.url + "/api/v1/openapi.json").json()
    operations = sum(len(methods) for methods in document["paths"].values())
    origin = urlsplit(live_server.url).netloc
    requested: list[str] = []
    with sync_playwright() as playwright:
        try:
            browser = launch_chromium(playwright)
        except Exception as error:
            unavailable(f"Chromium did not start: {error}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(live_server.url + "/api/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            drawn = page.locator(".opblock").count()
            summary = page.locator(".opblock-summary-path", has_text="/api/v1/metrics/batch").count()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()
    assert drawn == operations and summary == 1, (drawn, operations)
    assert "fortium-metrics" in title.lower() or document["info"]["title"] in title
    assert not errors, errors
    foreign = [url for url in requested if urlsplit(url).scheme in {"http", "https"} and urlsplit(url).netloc != origin]
    assert not foreign, foreign
