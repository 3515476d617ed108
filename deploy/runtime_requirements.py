#!/usr/bin/env python3
"""Print the part of requirements.lock the service needs to run: the packages reachable from
pyproject.toml's `[project] dependencies` (and `[build-system] requires`, to install the project
itself), each with its pins, markers and hashes exactly as the lock has them. The `dev` extra's
test tools (pytest, Playwright, ...) are left out unless a run-time package needs them too.

One lock serves development, CI and the container image; the Dockerfile installs this subset of
it with `pip install --require-hashes`, which also fails the build if the subset missed a
dependency. The graph comes from the lock itself: uv writes each package's dependents as its
`# via` comments. Standard library only (it runs before anything is installed).

    python3 deploy/runtime_requirements.py requirements.lock pyproject.toml > runtime.lock
"""
from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503: `Foo_Bar` and `foo-bar` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = NAME.match(spec)
    if match is None:
        raise ValueError(f"not a requirement: {spec!r}")
    return normalize(match.group(1))


@dataclass
class Pinned:
    """One pinned package of the lock: its lines, and the packages that depend on it (`# via`)."""
    name: str
    lines: list[str] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)


def parse_lock(text: str) -> list[Pinned]:
    pinned: list[Pinned] = []
    in_via = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not stripped or (line.startswith("#") and not pinned):  # the header
            continue
        if not line[0].isspace():
            pinned.append(Pinned(requirement_name(line), [line]))
            in_via = False
            continue
        current = pinned[-1]
        current.lines.append(line)
        if stripped.startswith("# via"):
            in_via = True
            rest = stripped[len("# via"):].strip()
            if rest:
                current.dependents.add(requirement_name(rest))
        elif in_via and stripped.startswith("#"):
            current.dependents.add(requirement_name(stripped.lstrip("#")))
    return pinned


def roots(pyproject: dict) -> set[str]:
    specs = pyproject["project"]["dependencies"] + pyproject.get("build-system", {}).get("requires", [])
    return {requirement_name(spec) for spec in specs}


def runtime_subset(lock_text: str, pyproject: dict) -> list[Pinned]:
    pinned = parse_lock(lock_text)
    needs: dict[str, set[str]] = {}
    for package in pinned:
        for dependent in package.dependents:
            needs.setdefault(dependent, set()).add(package.name)
    wanted, todo = set(), list(roots(pyproject))
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += needs.get(name, ())
    return [package for package in pinned if package.name in wanted]


def main(lock: str, pyproject: str) -> None:
    subset = runtime_subset(Path(lock).read_text(), tomllib.loads(Path(pyproject).read_text()))
    sys.stdout.write(f"# The run-time part of {Path(lock).name}, written by deploy/runtime_requirements.py\n")
    sys.stdout.writelines(line for package in subset for line in package.lines)


if __name__ == "__main__":
    main(*sys.argv[1:3])
