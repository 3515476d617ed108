"""REST: `/api/dashboards` — saved layouts (dashboards/ package): list, open, save, change,
delete, publish as a team's or the organisation's default, withdraw. Adapters only: parse, run
the service in the caller's unit of work; the service checks permissions."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..dashboards import service
from ..dashboards.layout import DashboardList, DashboardOut, LayoutIn, LayoutUpdate, PublishIn
from .admin_api import act
from .bodies import parse_body
from .errors import ErrorEnvelope
from .openapi import Operation, documented

_ERR = {403: ("Your role or the key's scopes do not allow this, or the layout is not yours.", ErrorEnvelope),
        404: ("No layout of that id that you may open.", ErrorEnvelope)}
_INVALID = {422: ("Invalid layout: `field` names the widget field (e.g. widgets.2.measures.0) and why.", ErrorEnvelope)}
_EXAMPLE = {"name": "My overview", "widgets": [
    {"id": "kpis", "title": "Key figures", "chart": "tiles", "measures": ["sessions", "cost_usd"], "group_by": [],
     "x": 0, "y": 0, "w": 12, "h": 2},
    {"id": "cost", "title": "Cost by model", "chart": "bar", "measures": ["cost_usd"], "group_by": ["model"],
     "filters": {"team": ["platform"]}, "x": 0, "y": 2, "w": 6, "h": 4}]}


@documented(Operation(summary="Your dashboard layouts and the defaults published to you", tag="dashboards",
                      responses={200: ("Layouts, and the one /dashboards opens.", DashboardList), **_ERR}))
async def list_dashboards(request: Request) -> JSONResponse:
    return await act(request, service.list_dashboards)


@documented(Operation(summary="One layout (`default`: the one /dashboards opens)", tag="dashboards",
                      responses={200: ("The layout.", DashboardOut), **_ERR}))
async def get_dashboard(request: Request) -> JSONResponse:
    ref = request.path_params["dashboard_id"]
    return await act(request, lambda uow: service.get_dashboard(uow, ref))


@documented(Operation(summary="Save a new layout", tag="dashboards", body=LayoutIn, examples={"overview": _EXAMPLE},
                      description="Measures and dimensions are the analytics catalogue's "
                                  "(`/api/v1/analytics/catalogue`); the grid has 12 columns.",
                      responses={201: ("Saved.", DashboardOut), **_ERR, **_INVALID}))
async def create_dashboard(request: Request) -> JSONResponse:
    body = await parse_body(request, LayoutIn)
    return await act(request, lambda uow: service.create_dashboard(uow, body), 201)


@documented(Operation(summary="Change your layout (its name, its widgets or both)", tag="dashboards",
                      body=LayoutUpdate, examples={"rename": {"name": "Cost watch"}},
                      responses={200: ("Changed.", DashboardOut), **_ERR, **_INVALID}))
async def update_dashboard(request: Request) -> JSONResponse:
    body = await parse_body(request, LayoutUpdate)
    ref = request.path_params["dashboard_id"]
    return await act(request, lambda uow: service.update_dashboard(uow, ref, body))


@documented(Operation(summary="Delete your layout", tag="dashboards",
                      responses={200: ("Deleted; the layout as it was.", DashboardOut), **_ERR}))
async def delete_dashboard(request: Request) -> JSONResponse:
    ref = request.path_params["dashboard_id"]
    return await act(request, lambda uow: service.delete_dashboard(uow, ref))


@documented(Operation(summary="Publish your layout as a team's or the organisation's default", tag="dashboards",
                      body=PublishIn, examples={"team": {"to": "team", "team": "platform"}},
                      description="Leads publish to the teams they lead; managers and admins to any team or the "
                                  "organisation.",
                      responses={200: ("Published.", DashboardOut), **_ERR, **_INVALID}))
async def publish_dashboard(request: Request) -> JSONResponse:
    body = await parse_body(request, PublishIn)
    ref = request.path_params["dashboard_id"]
    return await act(request, lambda uow: service.publish_dashboard(uow, ref, body))


@documented(Operation(summary="Withdraw a published default (it stays its owner's layout)", tag="dashboards",
                      responses={200: ("Withdrawn.", DashboardOut), **_ERR}))
async def unpublish_dashboard(request: Request) -> JSONResponse:
    ref = request.path_params["dashboard_id"]
    return await act(request, lambda uow: service.unpublish_dashboard(uow, ref))


def dashboard_routes() -> list[BaseRoute]:
    one, publish = "/api/dashboards/{dashboard_id}", "/api/dashboards/{dashboard_id}/publish"
    return [
        Route("/api/dashboards", list_dashboards, methods=["GET"]),
        Route("/api/dashboards", create_dashboard, methods=["POST"]),
        Route(one, get_dashboard, methods=["GET"]), Route(one, update_dashboard, methods=["PUT"]),
        Route(publish, publish_dashboard, methods=["POST"]), Route(publish, unpublish_dashboard, methods=["DELETE"]),
        Route(one, delete_dashboard, methods=["DELETE"]),  # last: the permission matrix calls routes in this order
    ]
