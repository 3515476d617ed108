"""`fortium-metrics hook`: the command hook for Claude Code (reads the hook JSON on stdin).

Claude Code runs it on every tool call, so it must cost almost nothing and never slow or change
Claude Code. It imports only the standard library (no click, pydantic, SQLAlchemy, httpx:
tests/test_hook_startup.py checks it), prints nothing and exits 0 whatever happens. It maps the
payload to an event (hooks.py), appends it durably to the spool in data_dir/hook-spool, and
returns without waiting for delivery: that is the job of `fortium-metrics hook --drain`
(hook_drain.py), which the hook starts detached when none is running. Problems are written to
data_dir/hook.log, never to the terminal.

`drain.lock` in the spool directory is held by the one delivery process. The hook takes it before
starting that process and hands it over (the child inherits the locked file), and the process lets
go of it only while holding the spool lock with nothing pending: an event is never left behind by
a process that is exiting, and waiting for drain.lock means waiting for delivery.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone

from . import environment
from .hooks import to_event
from .mcp.spool import Spool, fcntl

MAX_STDIN = 4 * 1024 * 1024
SPOOL_DIR = "hook-spool"
DRAIN_LOCK = "drain.lock"
LOG_FILE = "hook.log"
LINGER_SECONDS = 10.0
HELP = """Record one Claude Code hook event read from stdin, for "type": "command" hooks
(see examples/claude_config/settings.json). It appends the event to data_dir/hook-spool and
returns at once: a background process delivers it to FORTIUM_API_URL (with FORTIUM_API_KEY) or
into the local database, now or, after an outage, later and exactly once. It prints nothing and
always exits 0; problems go to data_dir/hook.log."""


def main(argv: list[str]) -> None:
    """The whole command; returns normally (exit status 0) whatever happens."""
    data_dir = None
    try:
        data_dir = environment.data_dir()
        options = _options(argv, data_dir)
        if options is None:  # --help was printed
            return
        drain, linger, lock_fd = options
        if drain:
            from .hook_drain import drain as deliver

            deliver(data_dir, 0.0 if linger is None else linger, lock_fd)
        else:
            record(data_dir, LINGER_SECONDS if linger is None else linger)
    except BaseException as error:  # noqa: BLE001 — a hook must never fail Claude Code, even on ^C
        note(data_dir, f"hook: {type(error).__name__}: {error}")


def record(data_dir: str, linger: float) -> None:
    event = _event(_read_stdin())
    spool = Spool(os.path.join(data_dir, SPOOL_DIR))
    if event is not None:
        with spool.hold():
            spool.append([event])  # durable before anything else can fail
    if spool.has_pending():  # this event, or what an outage left behind
        start_drain(spool.directory, linger)


def _read_stdin() -> bytes:
    stream = sys.stdin.buffer
    data = stream.read(MAX_STDIN + 1)
    if len(data) > MAX_STDIN:
        while stream.read(1 << 20):  # read to the end: Claude Code must not meet a broken pipe
            pass
        raise ValueError(f"the hook input is larger than {MAX_STDIN} bytes; nothing recorded")
    return data


def _event(data: bytes) -> dict | None:
    if not data.strip():
        return None
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise ValueError(f"the hook input is a JSON {type(payload).__name__}, not an object; nothing recorded")
    event = to_event(payload, datetime.now(timezone.utc))
    if event is not None:
        event.setdefault("event_id", "hook-" + os.urandom(16).hex())  # a replayed spool line stays one event
    return event


# -- the delivery process -----------------------------------------------------------------------
def take_drain_lock(spool_dir: str, wait: bool) -> int | None:
    """The descriptor holding drain.lock, or None when another process holds it (and not `wait`)."""
    os.makedirs(spool_dir, exist_ok=True)
    fd = os.open(os.path.join(spool_dir, DRAIN_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is None:  # Windows: no cross-process lock (see spool.py)
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def start_drain(spool_dir: str, linger: float) -> None:
    """Start `fortium-metrics hook --drain`, detached, unless a delivery process is running (it then
    delivers this event too: it lets go of the lock only when, under the spool lock, nothing is
    pending; see hook_drain._deliver_while_busy)."""
    fd = take_drain_lock(spool_dir, wait=False)
    if fd is None:
        return
    try:
        # -P: not the current directory (Claude Code's project) on sys.path
        command = [sys.executable, "-P", "-m", "fortium_metrics.entry", "hook", "--drain", "--linger", str(linger)]
        if fcntl is not None and hasattr(os, "posix_spawn"):
            os.set_inheritable(fd, True)  # the child inherits the locked file: the lock passes to it
            quiet = [(os.POSIX_SPAWN_OPEN, n, os.devnull, os.O_RDWR, 0) for n in (0, 1, 2)]
            # setsid: outlives the hook and Claude Code's process group; /dev/null: Claude Code
            # waits for the hook's stdout and stderr to close, not for this process
            os.posix_spawn(sys.executable, [*command, "--lock-fd", str(fd)], os.environ, file_actions=quiet, setsid=True)
        else:
            import subprocess

            os.close(fd)  # Windows: the child takes the lock itself
            fd = None
            flags = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             creationflags=flags, start_new_session=os.name != "nt")
    finally:
        if fd is not None:
            os.close(fd)


# -- options and the log --------------------------------------------------------------------------
def option_parser():
    """The hook's options (argparse: the hook never imports click). Bad arguments raise ValueError
    instead of exiting with 2, which would block Claude Code."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:
            raise ValueError(message)

    class Formatter(argparse.HelpFormatter):  # "Usage:", as every other command's help (click)
        def add_usage(self, usage, actions, groups, prefix=None):
            super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)

    parser = Parser(prog="fortium-metrics hook", description=HELP, formatter_class=Formatter)
    parser.add_argument("--drain", action="store_true",
                        help="deliver what is spooled now, then exit (what the hook starts in the background)")
    parser.add_argument("--linger", type=float, metavar="SECONDS",
                        help=f"how long the background delivery waits for more events before it exits "
                             f"(default {LINGER_SECONDS:g}; with --drain 0)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="accepted for older settings files; ignored (the hook never waits for delivery)")
    parser.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)  # drain.lock, handed over by the hook
    return parser


def _options(argv: list[str], data_dir: str) -> tuple[bool, float | None, int | None] | None:
    """(drain, linger, lock_fd), or None after printing --help. No arguments (what Claude Code runs)
    costs nothing; argparse is imported only when there are some. Bad arguments never stop the
    hook: they are noted in hook.log and the defaults apply."""
    if not argv:
        return False, None, None
    parser = option_parser()
    try:
        options, unknown = parser.parse_known_args(argv)
    except SystemExit:  # -h / --help
        return None
    except ValueError as error:
        note(data_dir, f"hook: ignoring the arguments {argv}: {error}")
        return "--drain" in argv, None, None
    if unknown:
        note(data_dir, f"hook: ignoring the unknown arguments {unknown}")
    linger = None if options.linger is None else max(0.0, options.linger)
    return options.drain, linger, options.lock_fd


def hook_logger(data_dir: str):
    """The `fortium_metrics` loggers, writing to data_dir/hook.log (never to the terminal).
    logging is imported only here: the hook logs only when something goes wrong."""
    import logging

    root = logging.getLogger("fortium_metrics")
    if not root.handlers:
        os.makedirs(data_dir, exist_ok=True)
        handler = logging.FileHandler(os.path.join(data_dir, LOG_FILE))
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logging.getLogger("fortium_metrics.hook")


def note(data_dir: str | None, message: str) -> None:
    """One warning line in hook.log when it can be written; nothing otherwise (never the terminal)."""
    try:
        hook_logger(data_dir if data_dir is not None else environment.default_data_dir()).warning("%s", message)
    except Exception:  # noqa: BLE001 — an unwritable data directory: nowhere quiet to say it
        pass


def __getattr__(name: str):
    """`hook_command`, the click command cli.py registers (`fortium-metrics --data-dir X hook`, and
    the command list in --help). Built on demand: the hook itself never imports click."""
    if name != "hook_command":
        raise AttributeError(name)
    import click

    @click.command("hook", help=HELP, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.pass_context
    def hook_command(ctx: click.Context) -> None:
        for key, value in (ctx.obj or {}).items():  # the group's --data-dir / --database-url
            if value is not None:  # through the environment, so the delivery process sees them too
                os.environ[environment.ENV_PREFIX + key.upper()] = str(value)
        main(ctx.args)

    return hook_command
