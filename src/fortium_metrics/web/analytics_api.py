"""REST: `GET /api/v1/analytics` (the analytics query model, JSON or CSV) and
`GET /api/v1/analytics/catalogue` (every measure and dimension with its formula).

Query parameters: `measures=a,b`, `group_by=x,y`, `start`, `end` or `days`, `granularity`,
`compare=previous`, `order_by`, `limit`, `format=json|csv`, and any dimension as a filter
(`team=platform&model=claude-sonnet-4-5,claude-opus-4-1`; commas separate accepted values).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import analytics
from ..analytics import AnalyticsQuery, QueryResult, trends
from ..analytics.catalogue import DEFAULT_LABELS, DIMENSIONS, KPI_MEASURES, MEASURES, PUBLIC_MEASURES
from ..errors import Invalid
from .auth import request_principal
from .bodies import invalid, validated
from .errors import ErrorEnvelope
from .openapi import Operation, documented

_MEASURE_LIST = ", ".join(f"`{m}`" for m in PUBLIC_MEASURES)
_DIMENSION_LIST = ", ".join(f"`{d}`" for d in DIMENSIONS)


class AnalyticsParameters(BaseModel):
    """The documented query parameters (dimension filters come on top: `team=platform`...)."""

    model_config = ConfigDict(extra="allow")
    measures: str = Field(",".join(KPI_MEASURES), description=f"Comma-separated measures: {_MEASURE_LIST}. "
                          "Default: the overview's KPIs.")
    group_by: str | None = Field(None, description=f"Comma-separated dimensions: {_DIMENSION_LIST}, and the "
                                 f"organisation's labels (default {', '.join(DEFAULT_LABELS)}).")
    start: datetime | None = Field(None, description="Window start, ISO 8601 (no offset means UTC).")
    end: datetime | None = Field(None, description="Window end, exclusive. Default: the end of today, local time.")
    days: int = Field(30, ge=1, le=3660, description="Without start: the last N local days, today included.")
    granularity: Literal["hour", "day", "week", "month"] | None = Field(None, description="Adds that time dimension.")
    compare: Literal["previous"] | None = Field(None, description="`previous`: also the previous period's totals.")
    order_by: str | None = Field(None, description="Comma-separated measures or dimensions; `-name` descending.")
    limit: int = Field(1000, ge=1, le=10_000, description="At most this many rows.")
    format: Literal["json", "csv"] = Field("json", description="`csv`: the rows as CSV (a header line first).")


_RESERVED = set(AnalyticsParameters.model_fields)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse(request: Request) -> tuple[AnalyticsQuery, str]:
    params = dict(request.query_params)
    try:
        parsed = AnalyticsParameters.model_validate(params)
    except ValidationError as error:
        detail = error.errors()[0]
        name = ".".join(str(p) for p in detail["loc"]) or "query"
        raise Invalid(f"{name}: {detail['msg']}", field=name) from None
    filters = {name: _split(value) for name, value in params.items() if name not in _RESERVED}
    # The query's own rules (at least one measure, at most four dimensions...) name the parameter
    # too: `measures=` was a ValidationError, a 500.
    q = validated(AnalyticsQuery, dict(
        measures=_split(parsed.measures), group_by=_split(parsed.group_by), filters=filters, start=parsed.start,
        end=parsed.end, days=parsed.days, granularity=parsed.granularity, compare=parsed.compare,
        order_by=_split(parsed.order_by), limit=parsed.limit), "query")
    return q, parsed.format


def as_csv(result: QueryResult) -> str:
    out = io.StringIO()
    columns = [*result.group_by, *result.measures]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in result.rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()


@documented(Operation(
    summary="Any measures by any dimensions over a window (JSON or CSV)", tag="read", query=AnalyticsParameters,
    description="Every measure and dimension, with its formula, is listed by `/api/v1/analytics/catalogue` and in "
                "docs/analytics.md. Any dimension is also a filter: `?team=platform&model=a,b`. Developers read their "
                "own data, and anonymised aggregates of their teams (cells of fewer than the organisation's minimum "
                "group size are withheld); leads their teams; managers and admins everything.",
    responses={200: ("Rows, totals and (with compare=previous) the previous period's totals; text/csv with "
                     "format=csv.", QueryResult),
               404: ("A team, user or project filter names nothing in this organisation.", ErrorEnvelope)},
    text_media={200: "text/csv"}))
async def analytics_query(request: Request) -> Response:
    principal = await request_principal(request)
    q, output = parse(request)
    async with request.app.state.ctx.store.unit_of_work(principal) as uow:
        result = await analytics.query(uow, q)
    if output == "csv":
        return Response(as_csv(result), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="fortium-analytics.csv"'})
    return JSONResponse(result.model_dump(mode="json"))


class CatalogueEntry(BaseModel):
    name: str
    description: str
    family: str | None = None


class Catalogue(BaseModel):
    measures: list[CatalogueEntry]
    dimensions: list[CatalogueEntry]


def catalogue() -> Catalogue:
    return Catalogue(
        measures=[CatalogueEntry(name=m, description=MEASURES[m].text, family=MEASURES[m].family) for m in PUBLIC_MEASURES],
        dimensions=[CatalogueEntry(name=d.name, description=d.text) for d in DIMENSIONS.values()])


@documented(Operation(summary="Every analytics measure and dimension, with its formula", tag="read", public=True,
                      responses={200: ("The catalogue.", Catalogue)}))
async def analytics_catalogue(request: Request) -> JSONResponse:
    return JSONResponse(catalogue().model_dump(mode="json"))


class _Trends(BaseModel):
    model_config = ConfigDict(extra="allow")  # dimension filters, as on /api/v1/analytics


class TrendParameters(_Trends):
    measure: str = Field("cost_usd", description="One measure.")
    days: int = Field(30, ge=1, le=3660, description="The last N local days, today included.")


class TeamsParameters(_Trends):
    measures: str = Field("active_users,sessions,cost_usd,tool_success_rate", description="Comma-separated measures.")
    days: int = Field(90, ge=1, le=3660, description="The last N local days, today included.")


class AdoptionParameters(_Trends):
    weeks: int = Field(12, ge=1, le=104, description="The last N local weeks.")


class ForecastParameters(_Trends):
    measures: str = Field("cost_usd,input_tokens,output_tokens", description="Comma-separated additive measures.")


def _params(request: Request, model: type[BaseModel]) -> tuple[BaseModel, dict[str, list[str]]]:
    params = dict(request.query_params)
    try:
        parsed = model.model_validate(params)
    except ValidationError as error:
        detail = error.errors()[0]
        name = ".".join(str(p) for p in detail["loc"]) or "query"
        raise Invalid(f"{name}: {detail['msg']}", field=name) from None
    return parsed, {name: _split(v) for name, v in params.items() if name not in model.model_fields}


def _trend_endpoint(summary: str, parameters: type[BaseModel], answer, run):
    @documented(Operation(summary=summary, tag="read", query=parameters,
                          description="Formulas: docs/analytics.md. Dimension filters as on /api/v1/analytics.",
                          responses={200: ("The figures.", answer),
                                     404: ("A team, user or project filter names nothing here.", ErrorEnvelope)}))
    async def endpoint(request: Request) -> JSONResponse:
        principal = await request_principal(request)
        parsed, filters = _params(request, parameters)
        try:
            async with request.app.state.ctx.store.unit_of_work(principal) as uow:
                found = await run(uow, parsed, filters)
        except ValidationError as error:
            # The services build the query model from these parameters (`measures=` is no
            # measure): its refusal is the caller's error, not a 500. Any other model's is ours.
            if error.title != AnalyticsQuery.__name__:
                raise
            raise invalid(error, "query") from None
        return JSONResponse(TypeAdapter(answer).dump_python(found, mode="json"))

    endpoint.__name__ = f"analytics_{parameters.__name__.removesuffix('Parameters').lower()}"
    return endpoint


def analytics_routes() -> list[BaseRoute]:
    trend = _trend_endpoint("A measure per day: rolling mean, change against the previous period, weekday pattern",
                            TrendParameters, trends.Trend,
                            lambda uow, p, f: trends.trend(uow, p.measure, p.days, f))
    teams = _trend_endpoint("Teams compared: values, ranks and percentiles", TeamsParameters, list[trends.TeamStanding],
                            lambda uow, p, f: trends.compare_teams(uow, _split(p.measures), p.days, f))
    adoption = _trend_endpoint("Adoption: the share of each team active per week", AdoptionParameters,
                               list[trends.Adoption], lambda uow, p, f: trends.adoption(uow, p.weeks, f))
    forecast = _trend_endpoint("Month-end forecast of cost and tokens, with an 80% interval", ForecastParameters,
                               list[trends.Forecast],
                               lambda uow, p, f: trends.forecast(uow, _split(p.measures), filters=f))
    return [Route("/api/v1/analytics", analytics_query, methods=["GET"]),
            Route("/api/v1/analytics/catalogue", analytics_catalogue, methods=["GET"]),
            Route("/api/v1/analytics/trend", trend, methods=["GET"]),
            Route("/api/v1/analytics/teams", teams, methods=["GET"]),
            Route("/api/v1/analytics/adoption", adoption, methods=["GET"]),
            Route("/api/v1/analytics/forecast", forecast, methods=["GET"])]

