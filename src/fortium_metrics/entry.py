"""The console script. `fortium-metrics hook` takes a short path that imports only what spooling
the event needs (Claude Code may stop a hook early); everything else loads the full CLI."""
from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["hook"]:
        from .hook_cli import hook_command

        hook_command.main(args=sys.argv[2:], prog_name="fortium-metrics hook")
        return
    from .cli import main as cli_main

    cli_main()
