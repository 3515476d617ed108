"""What `serve` prints, once at start, while nobody can administer the service: the exact
commands that create the first administrator with a password, and where to sign in."""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from ..accounts import SignInSetup

NEW_ORG = "my-org"


def program(data_dir: str | None, database_url_given: bool) -> str:
    """How this process was started, so the printed commands run as they are: `fortium-metrics`
    when that is on PATH, else the script's own path (`.venv/bin/fortium-metrics` from dev.py)."""
    script = Path(sys.argv[0])
    on_path = shutil.which("fortium-metrics")
    if script.name != "fortium-metrics" or (on_path and Path(on_path).resolve() == script.resolve()):
        name = "fortium-metrics"
    else:
        name = shlex.quote(os.path.relpath(script) if script.resolve().is_relative_to(Path.cwd()) else str(script))
    if data_dir:
        name += f" --data-dir {shlex.quote(data_dir)}"
    if database_url_given:
        name += " --database-url URL"  # the one serve was given; not echoed, it may hold a password
    return name


def hint(state: SignInSetup | None, cli: str, base_url: str) -> str | None:
    if state is None or state.ready:
        return None
    lines = ["", "No administrator can sign in yet. In another terminal, with the same FORTIUM_* settings:"]
    if state.admins_without_password:
        slug, email = state.admins_without_password[0]
        lines += ["  give an existing administrator a password (you are asked for it twice):",
                  f"    {cli} user set-password {email} --org {slug}"]
    else:
        slug, email = (state.organizations or [NEW_ORG])[0], "you@example.com"
        lines.append("  create the first administrator (you are asked for a password twice):")
        if not state.organizations:
            lines.append(f'    {cli} org create "My Organisation" --slug {slug}')
        lines.append(f"    {cli} user create --org {slug} --email {email} --role admin --password-prompt")
    lines += ["  then sign in:",
              f'    POST {base_url}/api/auth/login  {{"email": "{email}", "password": "...", "org": "{slug}"}}', ""]
    return "\n".join(lines)
