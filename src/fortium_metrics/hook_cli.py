"""`fortium-metrics hook`: the command hook for Claude Code (reads the hook JSON on stdin).

It must never slow or change Claude Code: it prints nothing, always exits 0, and gives up after
`--timeout` seconds. The event is first appended to a durable spool (its own directory,
data_dir/hook-spool, so only hook processes contend for it), then delivered: to the server
(FORTIUM_API_URL + FORTIUM_API_KEY, through the same forwarder as `fortium-metrics mcp`), or into
the local embedded store. Whatever cannot be delivered now stays spooled and goes first next time.
Problems are written to data_dir/hook.log, never to the terminal.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from datetime import datetime, timezone

import click

from .config import Settings, load_settings
from .hooks import to_event
from .mcp.spool import Spool

# Only light modules above: the event must be spooled (durable) before the heavy imports that
# delivery needs, since Claude Code may stop a hook early (SessionEnd hooks get 1.5 s).

MAX_STDIN = 4 * 1024 * 1024
log = logging.getLogger("fortium_metrics.hook")


def hook_spool(settings: Settings) -> Spool:
    return Spool(settings.data_dir / "hook-spool")


@click.command("hook")
@click.option("--timeout", type=click.FloatRange(0.5, 60), default=3.0, show_default=True,
              help="Give up (the event stays spooled) after this many seconds.")
@click.pass_context
def hook_command(ctx: click.Context, timeout: float) -> None:
    """Record one Claude Code hook event from stdin. For `"type": "command"` hooks, with
    `"async": true`; see examples/claude_config/settings.json. Always exits 0, prints nothing."""
    try:
        settings = load_settings(**(ctx.obj or {}))
        _log_to_file(settings)
        payload = json.loads(sys.stdin.buffer.read(MAX_STDIN) or b"{}")
        event = to_event(payload, datetime.now(timezone.utc)) if isinstance(payload, dict) else None
        if event is not None:
            event.setdefault("event_id", f"hook-{uuid.uuid4()}")
            asyncio.run(asyncio.wait_for(_deliver(settings, event), timeout))
    except Exception as error:  # noqa: BLE001 — a hook must never fail Claude Code
        log.warning("hook: %s: %s", type(error).__name__, error)
    ctx.exit(0)


def _log_to_file(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(settings.data_dir / "hook.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.propagate = False


async def _deliver(settings: Settings, event: dict) -> None:
    spool = hook_spool(settings)
    async with spool.locked():
        spool.append([event])  # durable before anything can fail
    if settings.api_url and settings.api_key:
        from .mcp.forwarder import Forwarder

        forwarder = Forwarder(settings.api_url, settings.api_key.get_secret_value(), spool)
        try:
            await forwarder.flush()
        finally:
            await forwarder.aclose()
    else:
        await _flush_locally(settings, spool)


async def _flush_locally(settings: Settings, spool: Spool) -> None:
    from . import migrate_if_sqlite
    from .context import AppContext
    from .ingest import record_events
    from .local import ensure_local_principal

    await asyncio.to_thread(migrate_if_sqlite, settings)
    app = AppContext.build(settings)
    try:
        principal = await ensure_local_principal(app.store)
        async with spool.locked():
            while (entry := spool.head()) is not None:
                batch, next_offset = entry
                result = await record_events(app.ingestor, principal, batch, "hook", strict_teams=False)
                for error in result.errors:
                    spool.reject([batch[error.index]], error.message)
                spool.advance(next_offset)
    finally:
        await app.close()
