"""Dashboards of their own: saved layouts (a grid of widgets, each an analytics query and a chart),
per person, with team and organisation defaults that leads, managers and admins publish.

* `models.py`: the `dashboards` table (registered with the store's schema by store/__init__.py);
* `layout.py`: the layout's shape, validated against the analytics catalogue;
* `defaults.py`: the built-in layout per role, shown when nothing is saved or published;
* `service.py`: one function per action (REST, MCP and the CLI share them).

This module imports nothing, so the store can register the table without an import cycle.
"""
