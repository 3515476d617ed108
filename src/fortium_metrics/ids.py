"""Deterministic event ids. Standard library only: `fortium-metrics hook` imports it on every
Claude Code tool call (see hook_cli.py)."""
from __future__ import annotations

import hashlib


def stable_id(*parts: object) -> str:
    """A deterministic event id from a record's identifying content."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]
