"""Health and the dashboard's front page."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from .. import __version__

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape()
)


async def healthz(request: Request) -> JSONResponse:
    store = request.app.state.store
    try:
        await store.ping()
        database = "ok"
    except Exception as error:  # health must answer, whatever the database says
        database = f"unavailable: {type(error).__name__}"
    status = 200 if database == "ok" else 503
    return JSONResponse(
        {"status": "ok" if status == 200 else "degraded", "database": database,
         "dialect": store.dialect, "version": __version__},
        status_code=status,
    )


async def dashboard(request: Request) -> HTMLResponse:
    page = _templates.get_template("index.html").render(version=__version__, dialect=request.app.state.store.dialect)
    return HTMLResponse(page)
