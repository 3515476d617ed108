"""Every command and group of the whole click tree answers -h, says what it does, and explains
every option; `jobs run` names and explains each job."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from fortium_metrics.cli import main
from fortium_metrics.cli.server import JOBS


def walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += walk(sub, (*path, name))
    return found


TREE = walk(main)


def test_the_tree_has_every_command_group():
    groups = {path[0] for path, _ in TREE if path}
    assert {"serve", "db", "org", "user", "team", "apikey", "jobs", "config", "import", "sso", "mcp", "hook"} <= groups


@pytest.mark.parametrize("path, command", TREE, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_answers_dash_h_and_explains_itself_and_its_options(path, command):
    result = CliRunner().invoke(main, [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: "), result.output
    assert (command.help or "").strip(), f"{' '.join(path) or 'main'} has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts[0]} has no help text"
    for name in getattr(command, "commands", {}):
        assert name in result.output


def test_jobs_run_names_and_explains_each_job():
    output = " ".join(CliRunner().invoke(main, ["jobs", "run", "-h"]).output.split())
    assert "JOB" in output and "{" not in output
    for name, (what, _) in JOBS.items():
        assert f"{name}: {' '.join(what.split())}" in output
