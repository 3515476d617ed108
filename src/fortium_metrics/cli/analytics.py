"""`analytics query` and `analytics rebuild`: the analytics model from the command line."""
from __future__ import annotations

import json
from datetime import datetime

import click

from .. import analytics
from ..analytics.catalogue import DIMENSIONS, PUBLIC_MEASURES
from ..analytics.rollups import rebuild
from .base import _in_org, _run, json_option, main, org_option, out
from .output import emit


@main.group("analytics")
def analytics_group() -> None:
    """Ask the analytics model (the numbers the dashboard and REST API show), and look after its rollups."""


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@analytics_group.command("query")
@org_option
@click.option("--measure", "-m", "measures", multiple=True, required=True,
              help=f"Repeatable or comma-separated. Known: {', '.join(PUBLIC_MEASURES)}.")
@click.option("--group-by", "-g", multiple=True, help=f"Repeatable or comma-separated: {', '.join(DIMENSIONS)}, "
              "or an organisation label.")
@click.option("--filter", "-f", "filters", multiple=True, metavar="DIMENSION=VALUE[,VALUE]",
              help="Repeatable, e.g. -f team=platform -f model=claude-opus-4-1.")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True,
              help="The last N local days, today included (unless --start is given).")
@click.option("--start", type=click.DateTime(), help="Window start (UTC unless an offset is given).")
@click.option("--end", type=click.DateTime(), help="Window end, exclusive.")
@click.option("--granularity", type=click.Choice(["hour", "day", "week", "month"]), help="Adds that time dimension.")
@click.option("--compare", is_flag=True, help="Also the previous period's totals.")
@click.option("--order-by", multiple=True, help="Measures or dimensions; -name for descending.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most this many rows.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@json_option
@click.pass_context
def analytics_query(ctx: click.Context, org_slug: str, measures, group_by, filters, days: int, start: datetime | None,
                    end: datetime | None, granularity: str | None, compare: bool, order_by, limit: int, as_csv: bool,
                    as_json: bool) -> None:
    """Any measures by any dimensions, as an administrator of --org sees them."""
    parsed_filters: dict[str, list[str]] = {}
    for item in filters:
        name, _, values = item.partition("=")
        if not values:
            raise click.BadParameter(f"{item!r}: expected DIMENSION=VALUE", param_hint="--filter")
        parsed_filters.setdefault(name.strip(), []).extend(_split((values,)))
    q = analytics.AnalyticsQuery(measures=_split(measures), group_by=_split(group_by), filters=parsed_filters,
                                 days=days, start=start, end=end, granularity=granularity,
                                 compare="previous" if compare else None, order_by=_split(order_by), limit=limit)
    result = _run(ctx, lambda store: _in_org(store, org_slug, lambda uow: analytics.query(uow, q)))
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    if as_csv:
        from ..web.analytics_api import as_csv as to_csv

        click.echo(to_csv(result), nl=False)
        return
    columns = {name: name for name in [*result.group_by, *result.measures]}
    first = result.group_by[0] if result.group_by else None
    rows = list(result.rows) if first else []
    rows.append({**result.totals, **({first: "total"} if first else {})})
    if result.previous is not None:
        rows.append({**result.previous, **({first: "previous period"} if first else {})})
    emit(out, rows, columns, as_json=False)


@analytics_group.command("rebuild")
@click.option("--org", "org_slug", help="Only this organisation (default: every organisation whose rollups are stale).")
@click.pass_context
def analytics_rebuild(ctx: click.Context, org_slug: str | None) -> None:
    """Recompute the analytics rollups from the stored events (safe to run twice, or beside `serve`)."""
    from .. import orgs

    async def work(store):
        organizations = None
        if org_slug:
            organizations = [await orgs.id_for_slug(store, org_slug)]
        return await rebuild(store, organizations,
                             progress=lambda org, events: out.print(f"rebuilt {org}: {events} events", highlight=False))

    done = _run(ctx, work)
    out.print(f"{len(done)} organisation(s) rebuilt" if done else "every organisation's rollups are current")
