"""The page-weight budget: a dashboard page loads at most 300 KB of compressed JavaScript and CSS
(docs/product.md), measured on the built files (frontend/build.mjs writes what each entry may
load, dynamic imports included, to static/manifest.json)."""
from __future__ import annotations

import gzip

from browser_support import built_front_end
from fortium_metrics.web.pages.templating import STATIC_DIR, read_manifest

BUDGET = 300 * 1024
PAGE_ENTRIES = ("theme-init.js", "styles.css", "app.js")  # what base.html links


def page_files(manifest: dict) -> set[str]:
    return {file for entry in PAGE_ENTRIES for file in manifest["loads"][entry]}


def test_a_dashboard_page_stays_within_its_compressed_budget():
    built_front_end()
    manifest = read_manifest()
    files = page_files(manifest)
    sizes = {file: len(gzip.compress((STATIC_DIR / file).read_bytes(), compresslevel=9)) for file in files}
    total = sum(sizes.values())
    print(f"\na dashboard page loads {len(files)} files, {total / 1024:.1f} KB gzip (budget {BUDGET // 1024} KB): "
          + ", ".join(f"{name} {size / 1024:.1f} KB" for name, size in sorted(sizes.items())))
    assert any(file.startswith("chunk-") for file in files)  # the charts chunk is counted, not just the entry
    assert total <= BUDGET


def test_every_entry_the_base_layout_links_is_built():
    built_front_end()
    assets = read_manifest()["assets"]
    for entry in PAGE_ENTRIES:
        assert (STATIC_DIR / assets[entry]["file"]).is_file()
    template = (STATIC_DIR.parent / "templates" / "base.html").read_text()
    assert all(f"assets.url('{entry}')" in template for entry in PAGE_ENTRIES)
