#!/usr/bin/env python3
"""The README's commands, with nothing installed beforehand but Python and pip.

    python3 dev.py serve [ARGS...]   install, then `fortium-metrics serve ARGS...`
    python3 dev.py cli   [ARGS...]   install, then `fortium-metrics ARGS...` (org, user, team, ...)
    python3 dev.py test  [ARGS...]   install (with test tools), then `pytest ARGS...`

Installs into ./.venv from the hashed lock file (requirements.lock). A stamp of the lock file's
hash skips the install when nothing changed, so the second run starts at once.

The dashboard's front end (frontend/: TypeScript, CSS) needs Node.js >= 20 with npm: `npm ci`
runs when frontend/package-lock.json changes, the build (into src/fortium_metrics/web/static/)
when the lock or the sources change, each remembered by a stamp of their hash. `test` also
type-checks the TypeScript (tsc --noEmit) and runs its component tests (Vitest) before pytest.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "src" / "fortium_metrics" / "web" / "static"
NODE_MIN = 20


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


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(FRONTEND)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _node() -> tuple[str, str]:
    """node and npm, or exit saying what is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm)) if not path]
    if missing:
        sys.exit(f"The dashboard's front end needs Node.js >= {NODE_MIN} with npm; not found: {', '.join(missing)}. "
                 "Install Node.js (https://nodejs.org/) and run this again.")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < NODE_MIN:
        sys.exit(f"The dashboard's front end needs Node.js >= {NODE_MIN}; this is {version or 'an unknown version'}.")
    return node, npm


def _step(title: str, args: list[str]) -> None:
    print(title, flush=True)
    if subprocess.call(args, cwd=FRONTEND) != 0:
        sys.exit(f"failed: {' '.join(Path(a).name if i == 0 else a for i, a in enumerate(args))} (in frontend/)")


def _frontend(always: bool) -> tuple[str, str] | None:
    """npm ci and the build when their inputs changed; node and npm when used (or `always`)."""
    lock = [FRONTEND / "package.json", FRONTEND / "package-lock.json"]
    sources = lock + [p for p in FRONTEND.glob("*.*") if p.is_file() and p.suffix in {".mjs", ".json", ".ts"}]
    sources += [p for p in (FRONTEND / "src").rglob("*") if p.is_file()]
    deps_stamp, build_stamp = FRONTEND / "node_modules" / ".fortium-deps-stamp", STATIC / ".fortium-build-stamp"
    deps, build = _digest(lock), _digest(list(set(sources)))
    need_deps = not (deps_stamp.exists() and deps_stamp.read_text() == deps)
    need_build = need_deps or not (build_stamp.exists() and build_stamp.read_text() == build)
    if not (need_deps or need_build or always):
        return None
    node, npm = _node()
    if need_deps:
        _step("Installing the front end's locked packages (npm ci) ...", [npm, "ci", "--no-audit", "--no-fund"])
        deps_stamp.write_text(deps)
    if need_build:
        _step("Building the front end ...", [node, "build.mjs"])
        build_stamp.write_text(build)
    return node, npm


def _frontend_checks(node: str) -> None:
    _step("Type-checking the front end (tsc --noEmit) ...", [node, "node_modules/typescript/bin/tsc", "--noEmit"])
    _step("Front-end component tests (Vitest) ...", [node, "node_modules/vitest/vitest.mjs", "run"])


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "cli", "test"}:
        print(__doc__)
        return 2
    _install()
    command, rest = argv[0], argv[1:]
    if command == "cli":  # in the caller's directory, so relative paths (import PATH...) mean what they say
        return subprocess.call([str(BIN / "fortium-metrics"), *rest])
    tools = _frontend(always=command == "test")
    if command == "serve":
        args = [str(BIN / "fortium-metrics"), "serve", *rest]
    else:
        _frontend_checks(tools[0])
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    os.chdir(ROOT)
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
