"""The built-in layout for whoever has saved none and has no published default: the organisation
at a glance for managers and admins, the teams they lead for leads, their own work for developers
(the analytics service narrows every widget to what the reader may see anyway)."""
from __future__ import annotations

from .layout import LayoutIn, Widget


def _w(id: str, title: str, chart: str, measures: list[str], group_by: list[str], x: int, y: int, w: int,
       h: int) -> Widget:
    return Widget(id=id, title=title, chart=chart, measures=measures, group_by=group_by, x=x, y=y, w=w, h=h)


OVERVIEW = LayoutIn(name="Organisation overview", widgets=[
    _w("kpis", "Key figures", "tiles", ["active_users", "sessions", "prompts", "cost_usd"], [], 0, 0, 12, 2),
    _w("cost", "Cost over time", "line", ["cost_usd"], ["day"], 0, 2, 6, 4),
    _w("activity", "Activity over time", "line", ["sessions", "active_users"], ["day"], 6, 2, 6, 4),
    _w("models", "Cost by model", "bar", ["cost_usd"], ["model"], 0, 6, 6, 4),
    _w("teams", "Sessions by team", "bar", ["sessions"], ["team"], 6, 6, 6, 4),
])
TEAM = LayoutIn(name="My teams", widgets=[
    _w("kpis", "Team figures", "tiles", ["active_users", "sessions", "cost_usd", "pull_requests"], [], 0, 0, 12, 2),
    _w("people", "Sessions by person", "bar", ["sessions"], ["user"], 0, 2, 6, 4),
    _w("active", "Active people over time", "line", ["active_users"], ["day"], 6, 2, 6, 4),
    _w("table", "People", "table", ["sessions", "cost_usd", "lines_added"], ["user"], 0, 6, 12, 4),
])
PERSONAL = LayoutIn(name="My work", widgets=[
    _w("kpis", "My figures", "tiles", ["sessions", "prompts", "cost_usd", "lines_added"], [], 0, 0, 12, 2),
    _w("sessions", "My sessions over time", "line", ["sessions"], ["day"], 0, 2, 6, 4),
    _w("models", "My cost by model", "pie", ["cost_usd"], ["model"], 6, 2, 6, 4),
    _w("tools", "My tools", "bar", ["tool_executions"], ["tool"], 0, 6, 12, 4),
])


def built_in(reads_every_team: bool, leads_a_team: bool) -> LayoutIn:
    if reads_every_team:
        return OVERVIEW
    return TEAM if leads_a_team else PERSONAL
