"""Where legacy local-metrics files live (§1, §2 of docs/formats/legacy-local-metrics.md) and
which of them are data.

Order matters: when the same record sits in several files, the first file read keeps it (the
others are counted as duplicates), so live roots come before backups, typed files before the
session copies, and summary files before `session-history.jsonl`.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

LEGACY_DIRS = (".agent-os", ".ai-mesh", ".ensemble", ".claude")
HOME_ROOTS = (".agent-os/metrics", ".ai-mesh/metrics", ".ensemble/metrics", ".claude/metrics")
BACKUPS = ".agent-os/metrics-backup-python"
REPO_DATA = ".agent-os/metrics/data"
PROFILES = (".ai-mesh/profile/user.json", ".ensemble/profile/user.json")

# Root-level data files, in reading order (G1 typed files first: their copies in sessions/ and
# session-metrics.jsonl are then the duplicates).
ROOT_FILES = ("command-metrics.jsonl", "agent-metrics.jsonl", "tool-metrics.jsonl", "session-metrics.jsonl")
HISTORY = "session-history.jsonl"
G0_PREFIXES = ("agent_invocations_", "agent_performance_")

# Named explicitly or not, these are never records: derived snapshots, state, logs, secrets.
NOT_RECORDS = frozenset({
    "productivity-indicators.json", "current-baseline.json", "historical-baseline.json", "dashboard-data.json",
    "config.json", "migration-log.jsonl", "sync_queue.json", "collector_status.json", ".auth-token",
    ".current-session-id", ".dashboard-active", "user.json", "metrics-collector.log", "realtime.log",
})


def is_g0_file(path: Path) -> bool:
    return path.suffix == ".jsonl" and path.name.startswith(G0_PREFIXES)


def is_context_file(path: Path) -> bool:
    """Small files that decide sessions, summaries and G0 joins; read for context even when the
    runner has already imported them (a re-run only re-parses changed files)."""
    return path.parent.name == "sessions" or path.name == HISTORY or is_g0_file(path)


def root_files(root: Path) -> list[Path]:
    """The data files of one metrics root (or of a G0 `data/` directory), in reading order."""
    found = [root / name for name in ROOT_FILES if (root / name).is_file()]
    sessions = root / "sessions"
    if sessions.is_dir():
        found += sorted(p for p in sessions.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file()
                        and p.name not in NOT_RECORDS)
    if (root / HISTORY).is_file():
        found.append(root / HISTORY)
    for data_dir in (root / "data", root):
        if data_dir.is_dir():
            found += sorted(p for p in data_dir.iterdir() if is_g0_file(p) and p.is_file())
    return found


def home_roots(home: Path, only: str | None = None) -> list[Path]:
    """The metrics roots under a home (`only`: under one of its legacy directories)."""
    roots = [home / rel for rel in HOME_ROOTS if (home / rel).is_dir() and only in (None, rel.split("/")[0])]
    backups = home / BACKUPS
    if backups.is_dir() and only in (None, ".agent-os"):
        roots += sorted(p for p in backups.iterdir() if p.is_dir())
    return roots


def roots_of(directory: Path) -> list[Path]:
    """A directory named by the user: a home (has legacy roots), a repository (has
    `.agent-os/metrics/data`), one legacy directory (`~/.ai-mesh`), or else itself a metrics
    root. Every repository's `.agent-os/metrics/data` below it counts too (§7.1: G0 wrote
    repo-local files, e.g. `~/src/<repo>/.agent-os/metrics/data`)."""
    if directory.name in LEGACY_DIRS:
        return home_roots(directory.parent, only=directory.name)
    roots = home_roots(directory)
    if (directory / REPO_DATA).is_dir():
        roots.append(directory / REPO_DATA)
    roots += repo_data_dirs(directory)
    return roots or [directory]


# Never walked for repositories: dependencies and caches that can hold hundreds of thousands of
# files, every name starting with "." (.git, .venv, .cache, .npm: VCS and tool state), and macOS's
# application data. Names a repository could have (build, dist, env) are walked.
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "Library"})
MAX_DEPTH = 8  # below the walked directory; repositories sit at ~/src/<org>/<repo> and the like


def repo_data_dirs(top: Path) -> list[Path]:
    """Every `<repo>/.agent-os/metrics/data` strictly below `top`, in path order."""
    return sorted(found for found in _walk_repos(str(top), 0))


def _walk_repos(directory: str, depth: int) -> Iterator[Path]:
    if depth >= MAX_DEPTH:
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:  # unreadable: nothing to find there
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name in SKIP_DIRS:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        data = Path(entry.path) / REPO_DATA
        if data.is_dir():
            yield data
        yield from _walk_repos(entry.path, depth + 1)


def is_named_data_file(path: Path) -> bool:
    """A file the user named: imported unless it is known not to hold records."""
    return path.suffix in (".json", ".jsonl") and path.name not in NOT_RECORDS


def unique(paths: Iterable[Path]) -> list[Path]:
    """Keep the first of paths that point at the same file (a home that is also a repo)."""
    seen: set[Path] = set()
    kept = []
    for path in paths:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            kept.append(path)
    return kept


def home_of(path: Path) -> Path | None:
    """The home directory a discovered file sits under (the parent of its `.agent-os`,
    `.ai-mesh`, `.ensemble` or `.claude` directory), to find the identity profile."""
    for parent in path.parents:
        if parent.name in LEGACY_DIRS:
            return parent.parent
    return None


def label(path: Path) -> str:
    """A short, machine-independent provenance label: the path from the legacy directory on
    (`.agent-os/metrics/tool-metrics.jsonl`), never the user's home path."""
    parts = path.parts
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in LEGACY_DIRS:
            return "/".join(parts[index:])
    return path.name
