#!/usr/bin/env python3
"""The README's commands, with nothing installed beforehand but Python and pip.

    python3 dev.py serve [ARGS...]   install, then `fortium-metrics serve ARGS...`
    python3 dev.py cli   [ARGS...]   install, then `fortium-metrics ARGS...` (org, user, team, ...)
    python3 dev.py test  [ARGS...]   install (with test tools), then `pytest ARGS...`

Installs into ./.venv from the hashed lock file (requirements.lock). A stamp of the lock file's
hash skips the install when nothing changed, so the second run starts at once.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _install() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"fortium-metrics needs Python >= 3.11 (this is {sys.version.split()[0]})")
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".fortium-lock-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("Installing locked dependencies (first run takes a minute) ...", flush=True)
    subprocess.run(pip + ["--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run(pip + ["--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "cli", "test"}:
        print(__doc__)
        return 2
    _install()
    command, rest = argv[0], argv[1:]
    if command == "cli":  # in the caller's directory, so relative paths (import PATH...) mean what they say
        return subprocess.call([str(BIN / "fortium-metrics"), *rest])
    if command == "serve":
        args = [str(BIN / "fortium-metrics"), "serve", *rest]
    else:
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    os.chdir(ROOT)
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
