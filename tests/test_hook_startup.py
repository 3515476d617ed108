"""`fortium-metrics hook` runs on every Claude Code tool call: its start-up path imports only the
standard library and the few light modules listed here, and reads the same settings as the rest."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path, PurePath

import pytest

from fortium_metrics import environment
from fortium_metrics.config import load_settings
from fortium_metrics.hooks import project_name
from fortium_metrics.mcp.spool import Spool
from fixture_paths import HOOKS
from test_hook_cli import base_env, closed_port, wait_for_delivery

HEAVY = {"sqlalchemy", "pydantic", "pydantic_core", "pydantic_settings", "click", "httpx", "httpx2", "mcp",
         "starlette", "anyio", "asyncio", "rich", "alembic", "orjson", "logging", "argparse", "subprocess"}
LIGHT = {"fortium_metrics", "fortium_metrics.entry", "fortium_metrics.hook_cli", "fortium_metrics.hooks",
         "fortium_metrics.ids", "fortium_metrics.environment", "fortium_metrics.mcp", "fortium_metrics.mcp.spool"}
# Runs the console script's entry as Claude Code does (no arguments); lists what got imported.
# The delivery process it starts lingers 0 s, so the test can wait for it.
PROBE = """
import json, sys
before = set(sys.modules)
sys.argv = ["fortium-metrics", "hook"]
import fortium_metrics.hook_cli
fortium_metrics.hook_cli.LINGER_SECONDS = 0
from fortium_metrics.entry import main
main()
sys.stderr.write(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("mode", ["embedded", "forwarder"])
def test_the_hook_starts_without_heavy_modules(tmp_path, mode):
    extra = {"FORTIUM_API_URL": f"http://127.0.0.1:{closed_port()}", "FORTIUM_API_KEY": "fmk_x"} if mode == "forwarder" else {}
    done = subprocess.run([sys.executable, "-c", PROBE], input=(HOOKS / "PostToolUse.json").read_bytes(),
                          env=base_env(tmp_path, **extra), capture_output=True, timeout=60)
    wait_for_delivery(tmp_path / "laptop")
    assert done.returncode == 0 and done.stdout == b"", done.stderr
    loaded = set(json.loads(done.stderr))
    assert not {name.split(".")[0] for name in loaded} & HEAVY
    assert {name for name in loaded if name.startswith("fortium_metrics")} == LIGHT
    assert Spool(tmp_path / "laptop" / "hook-spool").pending() == (1 if mode == "forwarder" else 0)  # it did its job


def test_importing_the_package_is_light():
    code = "import sys, fortium_metrics; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert not {name.split(".")[0] for name in loaded} & HEAVY


def test_the_hook_and_the_settings_agree_on_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("FORTIUM_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert load_settings().data_dir == Path(environment.data_dir()) == tmp_path / "xdg" / "fortium-metrics"
    monkeypatch.setenv("fortium_data_dir", str(tmp_path / "lower"))  # pydantic-settings ignores the case
    assert load_settings().data_dir == Path(environment.data_dir()) == tmp_path / "lower"


def test_forwarder_mode_needs_both_url_and_key(monkeypatch):
    for name in ("FORTIUM_API_URL", "FORTIUM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FORTIUM_API_URL", "http://metrics.example")
    assert environment.forwarding_to() is None
    monkeypatch.setenv("FORTIUM_API_KEY", "fmk_x")
    assert environment.forwarding_to() == ("http://metrics.example", "fmk_x")


@pytest.mark.parametrize("cwd", ["/a/b", "/a/b/", "/", ".", "./", "a/./.", "/a/b/.", "//x", "x", "/a/..", "~/my project", "a//b//"])
def test_the_project_is_named_as_pathlib_names_the_directory(cwd):
    assert project_name(cwd) == PurePath(cwd).name


def test_has_pending_follows_appends_and_deliveries(tmp_path):
    spool = Spool(tmp_path)
    assert not spool.has_pending()
    with spool.hold():
        spool.append([{"n": 0}])
        spool.append([{"n": 1}])
        assert spool.has_pending()
        spool.advance(spool.head()[1])
        assert spool.has_pending()
        spool.advance(spool.head()[1])
    assert not spool.has_pending() and spool.pending() == 0
