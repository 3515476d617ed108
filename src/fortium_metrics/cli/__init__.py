"""The command line. Each command parses its input, opens a unit of work and calls one service.

base: the root group and shared helpers · output: tables, `field: value` blocks, --json ·
server: serve, db, jobs, config, mcp · ops: retention, backup, restore · tenants: org, apikey · people: user, team ·
analytics: query, rebuild ·
first_run: what `serve` prints while nobody can sign in. `import`, `hook` and `sso` live next to
their domains and are registered here.
"""
from __future__ import annotations

from . import analytics, ops, people, server, tenants  # noqa: F401  (registering their commands on `main`)
from .base import _in_org, _run, _settings, err, main, out  # noqa: F401  (sso_cli uses these)


def _register_subcommands() -> None:
    from ..hook_cli import hook_command
    from ..importers.cli import import_group
    from ..demo import demo_command
    from ..sso_cli import sso_group

    main.add_command(import_group)
    main.add_command(hook_command)
    main.add_command(sso_group)
    main.add_command(demo_command)


_register_subcommands()
