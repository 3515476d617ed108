"""Printing what commands return, never cutting a value short (ids are copied from here).

Rows are the JSON shapes (ids as strings, the REST API's keys). `--json` prints them as they
are: one array for a list. Otherwise: on a terminal wide enough, a table; on a narrower one,
one block of `field: value` lines per row (a table would truncate or fold the ids); into a pipe
or a file, plain aligned columns at their full width.
"""
from __future__ import annotations

import json
from typing import Any

import click
from pydantic import BaseModel
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

Columns = dict[str, str]  # key in the row -> heading


def rows_of(model: str, objects) -> list[dict[str, Any]]:
    """The objects as the REST API answers them: its response model `model` (UserOut, TeamOut,
    ...) of web/admin_api.py. Imported when a command prints, not at start-up: it brings the web
    stack (MCP auth included), a second or more before any command could run."""
    from ..web import admin_api

    cls: type[BaseModel] = getattr(admin_api, model)
    return [cls.model_validate(o, from_attributes=True).model_dump(mode="json") for o in objects]


def text(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if key.endswith("_at") and isinstance(value, str):
        return value[:16].replace("T", " ")  # minutes are enough to read; --json has it all
    return str(value)


def emit(console: Console, rows: list[dict[str, Any]], columns: Columns, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    cells = [[text(key, row.get(key)) for key in columns] for row in rows]
    headings = list(columns.values())
    if not console.is_terminal:
        _plain(console, headings, cells)
    elif _table_width(headings, cells) <= console.width:
        table = Table(*headings, header_style="bold")
        for column in table.columns:
            column.no_wrap = True
        for line in cells:
            table.add_row(*map(Text, line))  # Text: a name like "[b]x" is not markup
        console.print(table, highlight=False, markup=False, emoji=False)
    else:
        _records(console, headings, cells)


def emit_record(console: Console, record: dict[str, Any], columns: Columns, as_json: bool) -> None:
    """One object: JSON as it is, else `field: value` lines."""
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    _records(console, list(columns.values()), [[text(key, record.get(key)) for key in columns]])


def _table_width(headings: list[str], cells: list[list[str]]) -> int:
    widths = [max(cell_len(v) for v in column) for column in zip(headings, *cells)]
    return sum(widths) + 3 * len(widths) + 1  # one space either side and a border per column, one more border


def _line(console: Console, line: str) -> None:
    # soft_wrap: never break a line (the terminal may wrap it on screen; copying gets it whole).
    console.print(line, soft_wrap=True, markup=False, highlight=False, emoji=False)


def _plain(console: Console, headings: list[str], cells: list[list[str]]) -> None:
    widths = [max(cell_len(v) for v in column) for column in zip(headings, *cells)]
    for line in (headings, *cells):
        _line(console, "  ".join(v + " " * (w - cell_len(v)) for v, w in zip(line, widths)).rstrip())


def _records(console: Console, headings: list[str], cells: list[list[str]]) -> None:
    width = max(cell_len(h) for h in headings) + 1
    for index, line in enumerate(cells):
        if index:
            _line(console, "")
        for heading, value in zip(headings, line):
            _line(console, f"{heading + ':':<{width}} {value}")
