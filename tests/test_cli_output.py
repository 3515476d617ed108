"""Lists never cut a value short: whole ids at any terminal width, in a pipe, in --json."""
from __future__ import annotations

import io
import json
import uuid

import pytest
from rich.console import Console

from cli_support import cli, unique_slug  # noqa: F401  (fixture)
from fortium_metrics.cli.output import emit

ROWS = [{"email": f"person{i}.with.a.long.address@example.test", "role": "developer", "id": str(uuid.uuid4())}
        for i in range(3)]
COLUMNS = {"email": "email", "role": "role", "id": "id"}


@pytest.fixture
def org_with_things(cli) -> str:
    slug = unique_slug()
    cli("org", "create", "Acme", "--slug", slug)
    cli("user", "create", "--org", slug, "--email", "someone.with.a.long.address@acme.test", "--name", "Some One")
    cli("team", "create", "--org", slug, "Platform Engineering")
    cli("apikey", "create", "--org", slug, "--name", "a key with a long name")
    return slug


@pytest.mark.parametrize("command", [("user", "list"), ("team", "list"), ("apikey", "list"), ("org", "list")])
def test_list_ids_are_whole_in_a_40_column_terminal(cli, org_with_things, command):
    scoped = () if command[0] == "org" else ("--org", org_with_things)
    ids = [row["id"] for row in json.loads(cli(*command, *scoped, "--json").stdout)]
    assert ids and all(uuid.UUID(i) for i in ids)
    narrow = cli(*command, *scoped, COLUMNS="40")
    assert narrow.exit_code == 0
    printed = narrow.stdout.split()
    for id_ in ids:
        assert id_ in printed  # whole, on one line, not folded or ellipsised


def test_a_narrow_terminal_gets_one_block_per_row_and_a_wide_one_a_table():
    for width in (40, 200):
        console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
        emit(console, ROWS, COLUMNS, as_json=False)
        printed = console.file.getvalue()
        for row in ROWS:
            assert row["id"] in printed.split() and row["email"] in printed.split()
        assert ("│" in printed) == (width == 200)  # the table's borders


def test_json_is_one_array_even_when_empty(cli):
    slug = unique_slug()
    cli("org", "create", "Empty", "--slug", slug)
    for command in (("user", "list"), ("team", "list"), ("apikey", "list")):
        assert json.loads(cli(*command, "--org", slug, "--json").stdout) == []


def test_names_are_printed_as_they_are_not_as_markup(cli):
    slug = unique_slug()
    cli("org", "create", "Acme", "--slug", slug)
    cli("user", "create", "--org", slug, "--email", "x@acme.test", "--name", "[bold]Robert[/bold] :smile:")
    assert "[bold]Robert[/bold] :smile:" in cli("user", "list", "--org", slug).stdout
