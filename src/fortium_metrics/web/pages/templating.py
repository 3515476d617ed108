"""Jinja2 for the pages, and the front end's built files (web/static, from frontend/).

Asset URLs carry the content hash the build writes to static/manifest.json, so a new build is
fetched at once while an unchanged file stays cached. Without a build (Node missing) the pages
still render, unstyled and without scripts: every page works without JavaScript.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ... import __version__

WEB = Path(__file__).resolve().parents[1]
STATIC_DIR = WEB / "static"
MANIFEST = STATIC_DIR / "manifest.json"


def read_manifest(path: Path = MANIFEST) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"assets": {}, "loads": {}}


class Assets:
    """URLs of the built entry files, read once per app (a rebuild needs a restart in production;
    `dev.py serve` builds before starting)."""

    def __init__(self, manifest: dict) -> None:
        self.assets = manifest.get("assets", {})

    def url(self, name: str) -> str | None:
        entry = self.assets.get(name)
        return f"/static/{entry['file']}?v={entry['hash']}" if entry else None


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(), trim_blocks=True,
                      lstrip_blocks=True)
    env.globals["version"] = __version__
    env.filters.update(usd=usd, count=count, minutes=minutes, duration_ms=duration_ms)
    return env


# Presentation of numbers the services computed (as frontend/src/format.ts shows them).
def usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def count(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def minutes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} min" if value < 90 else f"{value / 60:.1f} h"


def duration_ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s" if value < 60_000 else f"{value / 60_000:.1f} min"


def assets(request: Request) -> Assets:
    state = request.app.state
    if getattr(state, "page_assets", None) is None:
        state.page_assets = Assets(read_manifest())
    return state.page_assets


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    page = environment().get_template(template).render(request=request, assets=assets(request), **context)
    response = HTMLResponse(page, status_code=status)
    # Pages show one person's data: never stored by shared caches, never framed by other sites.
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "same-origin"
    return response
