"""The console script. `fortium-metrics hook` runs on every Claude Code tool call: it takes a path
that imports only the standard library (hook_cli.py); everything else loads the full click CLI."""
from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["hook"]:
        from .hook_cli import main as hook_main

        hook_main(sys.argv[2:])
        return
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":  # how the hook starts its delivery process: `python -m fortium_metrics.entry hook --drain`
    main()
