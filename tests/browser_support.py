"""Browsers for the end-to-end tests: the system's Chromium through the Python `playwright`
package (its own driver, no browser download) and the system's Firefox ESR through npm
`puppeteer-core` (WebDriver BiDi; frontend/e2e/firefox-smoke.mjs).

On a laptop without them the tests skip, saying what to install; CI sets
FORTIUM_TEST_REQUIRE_BROWSER=1 (.ci/run), which turns a missing browser into a failure.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRE = "FORTIUM_TEST_REQUIRE_BROWSER"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"


def unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} (required here: {REQUIRE}=1)")
    pytest.skip(reason)


def executable(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_path() -> str:
    path = executable("chromium", "chromium-browser")
    if path is None:
        unavailable("no Chromium: install it (Debian: apt-get install chromium) to run the browser tests")
    return path


def firefox_path() -> str:
    path = executable("firefox-esr", "firefox")
    if path is None:
        unavailable("no Firefox: install it (Debian: apt-get install firefox-esr) to run the second-engine test")
    return path


def built_front_end() -> None:
    if not (ROOT / "src" / "fortium_metrics" / "web" / "static" / "manifest.json").exists():
        unavailable("the front end is not built: run the tests with `python3 dev.py test` (it builds it)")


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
