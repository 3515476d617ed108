"""Deterministic event ids. Standard library only: `fortium-metrics hook` imports it on every
Claude Code tool call (see hook_cli.py)."""
from __future__ import annotations

try:  # CPython's built-in SHA-256: the same digest as hashlib's without loading OpenSSL, which
    from _sha2 import sha256  # costs the hook about 4 ms of CPU per call (3.12+: _sha2)
except ImportError:
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:  # a build without the built-in hashes
        from hashlib import sha256


def stable_id(*parts: object) -> str:
    """A deterministic event id from a record's identifying content."""
    return sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]
