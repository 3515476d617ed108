"""The FORTIUM_* variables `fortium-metrics hook` needs, read with the standard library only.

The hook runs on every Claude Code tool call, so it starts without pydantic; config.Settings reads
the same variables and takes its data_dir default from here, so both agree on where files live.
"""
from __future__ import annotations

import os

ENV_PREFIX = "FORTIUM_"


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "fortium-metrics")


def setting(name: str) -> str | None:
    """FORTIUM_<NAME> as pydantic-settings finds it (the variable's name in any case), or None."""
    key = ENV_PREFIX + name.upper()
    if key in os.environ:
        return os.environ[key]
    return next((value for env_key, value in os.environ.items() if env_key.upper() == key), None)


def data_dir() -> str:
    value = setting("data_dir")
    return default_data_dir() if value is None else value


def forwarding_to() -> tuple[str, str] | None:
    """(api_url, api_key) when both are set (forwarder mode), else None (embedded mode)."""
    url, key = setting("api_url"), setting("api_key")
    return (url, key) if url and key else None
