"""The audit log viewer: filters by actor, action, target and dates (the URL holds them, so a
filtered view can be shared), pages, and the same selection as CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ... import audit
from ...errors import Invalid
from ...pagination import PageQuery, page_number
from ...store.uow import UnitOfWork
from .admin_common import FormState, admin_page, render_admin
from .session import page

FILTERS = ("actor", "action", "target", "since", "until")
CSV_MAX_ROWS = 100_000


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name}: a date such as 2026-01-31 (got {value[:40]!r})", field=name) from None


def _selection(request: Request) -> tuple[dict[str, str], dict]:
    """The filters as typed, and as the service takes them (`until` is inclusive on the page)."""
    chosen = {name: request.query_params.get(name, "").strip()[:200] for name in FILTERS}
    since, until = _day(chosen["since"], "since"), _day(chosen["until"], "until")
    if since and until and until < since:
        raise Invalid("until: must not be before the start date", field="until")
    start = datetime.combine(since, time(), timezone.utc) if since else None
    end = datetime.combine(until + timedelta(days=1), time(), timezone.utc) if until else None
    return chosen, {"action": chosen["action"] or None, "actor": chosen["actor"] or None,
                    "target": chosen["target"] or None, "since": start, "until": end}


@admin_page("audit")
async def audit_page(request: Request, uow: UnitOfWork, form: FormState | None = None) -> Response:
    query = PageQuery(page=page_number(request.query_params.get("page")), limit=50)
    try:
        chosen, selection = _selection(request)
    except Invalid as error:  # shown next to the date field, with nothing filtered
        chosen = {name: request.query_params.get(name, "")[:200] for name in FILTERS}
        form = FormState("filters", chosen, {error.field: error.message.split(": ", 1)[-1]}, 422)
        selection = {}
    rows, total = await audit.search(uow, query, **selection)
    filtered = urlencode({k: v for k, v in chosen.items() if v})
    return await render_admin(request, uow, "audit", "admin/audit.html", form=form, title="Audit log",
                              intro="Who changed what, newest first. Entries cannot be edited or deleted.",
                              entries=rows, total=total, page=query.page, limit=query.limit, chosen=chosen,
                              actions=await audit.actions(uow), filtered=filtered,
                              pager_base=f"/admin/audit?{filtered}&" if filtered else "/admin/audit?")


@page("audit.read")
async def audit_csv(request: Request, uow: UnitOfWork) -> Response:
    _, selection = _selection(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["occurred_at", "actor", "action", "target", "details"])
    for entry in await audit.export(uow, CSV_MAX_ROWS, **selection):
        writer.writerow([entry.occurred_at.isoformat(), _cell(entry.actor), entry.action, _cell(entry.target or ""),
                         json.dumps(entry.details, sort_keys=True, default=str)])
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="audit-{stamp}.csv"', "cache-control": "no-store"})


def _cell(value: str) -> str:
    """No formula injection when the file is opened in a spreadsheet: a leading = + - @ is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_routes() -> list[tuple[str, str, object]]:
    return [("GET", "/admin/audit", audit_page), ("GET", "/admin/audit.csv", audit_csv)]
