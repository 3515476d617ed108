"""A layout: a name and a grid of widgets, each an analytics query (measures, grouping, filters)
drawn as a chart, at a place on a 12-column grid (GridStack's x, y, w, h).

The shape is checked by pydantic (every error names its field: `widgets.2.w`); what the names
mean is checked against the analytics catalogue here (`check_widgets`), with the organisation's
own label dimensions, so a saved layout never asks for a measure or a dimension that does not
exist, and a chart gets the shape of answer it can draw.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from ..analytics.catalogue import DIMENSIONS, PUBLIC_MEASURES, TIME_DIMENSIONS
from ..analytics.query import label_dimensions
from ..errors import Invalid

COLUMNS = 12
MAX_WIDGETS = 50
Chart = Literal["tiles", "line", "bar", "stacked_bar", "table", "pie"]
# The schema lists the catalogue's measures; the check stays check_widgets', whose error names the field.
MeasureName = Annotated[str, WithJsonSchema({"type": "string", "enum": PUBLIC_MEASURES})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Widget(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Unique within the layout.")
    title: str = Field("", max_length=200)
    measures: list[MeasureName] = Field(min_length=1, max_length=12, description="Analytics measures (the catalogue's).")
    group_by: list[str] = Field(default_factory=list, max_length=4, description="Analytics dimensions.")
    filters: dict[str, list[str]] | None = Field(None, max_length=20, description="Dimension -> accepted values.")
    chart: Chart
    x: int = Field(ge=0, lt=COLUMNS, description="Column (0-11) of the widget's left edge.")
    y: int = Field(ge=0, le=10_000, description="Row of its top edge.")
    w: int = Field(ge=1, le=COLUMNS, description="Width in columns.")
    h: int = Field(ge=1, le=24, description="Height in rows.")

    @model_validator(mode="after")
    def _fits(self) -> "Widget":
        if self.x + self.w > COLUMNS:
            raise ValueError(f"x + w must be at most {COLUMNS} (the grid's columns)")
        for values in (self.filters or {}).values():
            if not values or len(values) > 50 or any(len(v) > 200 for v in values):
                raise ValueError("filters: each takes 1 to 50 values of at most 200 characters")
        return self


class LayoutIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    widgets: list[Widget] = Field(default_factory=list, max_length=MAX_WIDGETS)


class LayoutUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    widgets: list[Widget] | None = Field(None, max_length=MAX_WIDGETS)


def check_widgets(widgets: list[Widget], settings: dict) -> None:
    """Raise Invalid naming the first field that does not fit the catalogue or its chart."""
    labels = label_dimensions(settings)
    seen: set[str] = set()
    for i, widget in enumerate(widgets):
        at = f"widgets.{i}"
        if widget.id in seen:
            raise Invalid(f"{at}.id: {widget.id!r} is used by another widget of this layout", field=f"{at}.id")
        seen.add(widget.id)
        for j, measure in enumerate(widget.measures):
            if measure not in PUBLIC_MEASURES:
                raise Invalid(f"{at}.measures.{j}: unknown measure {measure!r} (GET /api/v1/analytics/catalogue "
                              "lists them)", field=f"{at}.measures.{j}")
        for j, dimension in enumerate(widget.group_by):
            _dimension(dimension, labels, f"{at}.group_by.{j}")
        for name in widget.filters or {}:
            if _dimension(name, labels, f"{at}.filters.{name}") in TIME_DIMENSIONS:
                raise Invalid(f"{at}.filters.{name}: time is the page's date range, not a filter",
                              field=f"{at}.filters.{name}")
        _check_chart(widget, at)


def _dimension(name: str, labels: list[str], field: str) -> str:
    if name not in DIMENSIONS and name not in labels:
        raise Invalid(f"{field}: unknown dimension {name!r} (GET /api/v1/analytics/catalogue lists them; labels "
                      f"here: {', '.join(labels) or 'none'})", field=field)
    return name


def _check_chart(widget: Widget, at: str) -> None:
    times = [d for d in widget.group_by if d in TIME_DIMENSIONS]
    problem = None
    if len(times) > 1:
        problem = "at most one of hour, day, week, month"
    elif widget.chart == "tiles" and widget.group_by:
        problem = "tiles show totals: leave group_by empty"
    elif widget.chart == "line" and (not widget.group_by or widget.group_by[0] not in TIME_DIMENSIONS):
        problem = "a line chart needs a time dimension first (hour, day, week or month)"
    elif widget.chart == "pie" and (len(widget.group_by) != 1 or len(widget.measures) != 1 or times):
        problem = "a pie chart takes one measure by one dimension that is not time"
    elif widget.chart in ("bar", "stacked_bar") and not widget.group_by:
        problem = f"a {widget.chart.replace('_', ' ')} chart needs a dimension to group by"
    if problem:
        raise Invalid(f"{at}.group_by: {problem} (chart {widget.chart})", field=f"{at}.group_by")


class DashboardOut(BaseModel):
    id: uuid.UUID | None = Field(description="None for the built-in layout, which is not saved.")
    name: str
    widgets: list[Widget]
    owner_id: uuid.UUID | None = None
    published_to: Literal["team", "organization"] | None = Field(None, description="Whose default it is, if anyone's.")
    team_id: uuid.UUID | None = None
    builtin: bool = Field(False, description="The role's built-in layout: save it (POST) to keep changes.")
    mine: bool = Field(False, description="Yours: you may change and delete it (a published one within the "
                       "publishing rules).")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DashboardList(BaseModel):
    items: list[DashboardOut] = Field(description="Your layouts, then the defaults published to you.")
    default: DashboardOut = Field(description="What /dashboards opens: your latest layout, else your team's "
                                  "default, else the organisation's, else the built-in layout for your role.")


class PublishIn(Strict):
    to: Literal["team", "organization"]
    team: str | None = Field(None, max_length=64, description="With to=team: the team's slug or id.")
