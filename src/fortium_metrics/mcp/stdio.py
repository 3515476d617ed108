"""`fortium-metrics mcp`: the MCP server on stdio, as Claude Code launches it.

* embedded (no FORTIUM_API_URL): the services run in this process on the local database (the
  SQLite file in FORTIUM_DATA_DIR unless FORTIUM_DATABASE_URL says otherwise), as the single
  local user (organisation `local`; see local.py), like `import` and `hook`.
* forwarder (FORTIUM_API_URL + FORTIUM_API_KEY): records go to the remote server, spooled on
  disk while it is unreachable; queries are answered by the remote server's MCP endpoint.

stdout belongs to the protocol: everything else (logs, warnings) goes to stderr.
"""
from __future__ import annotations

import logging
import sys

import anyio

from ..config import Settings
from ..context import AppContext
from ..errors import ConfigError
from ..local import ensure_local_principal
from .. import migrate_if_sqlite
from .forwarder import Forwarder
from .server import build_mcp
from .spool import Spool

logger = logging.getLogger(__name__)
FLUSH_INTERVAL_SECONDS = 30.0
FINAL_FLUSH_SECONDS = 5.0


def spool_for(settings: Settings) -> Spool:
    return Spool(settings.data_dir / "spool")


def forwarder_for(settings: Settings) -> Forwarder:
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise ConfigError("FORTIUM_API_KEY: required with FORTIUM_API_URL (forwarder mode)")
    return Forwarder(settings.api_url, settings.api_key.get_secret_value(), spool_for(settings))


async def serve_stdio(settings: Settings, flush_interval: float = FLUSH_INTERVAL_SECONDS) -> None:
    logging.basicConfig(stream=sys.stderr, level=settings.log_level.upper())
    if settings.api_url:
        await _serve_forwarder(settings, flush_interval)
    else:
        await _serve_embedded(settings)


async def _serve_embedded(settings: Settings) -> None:
    await anyio.to_thread.run_sync(migrate_if_sqlite, settings)  # zero-config, like every command
    ctx = AppContext.build(settings)
    try:
        identity = await ensure_local_principal(ctx.store)
        logger.info("fortium-metrics mcp: embedded, recording as %s", identity.label)
        await build_mcp(ctx, identity, log_level=settings.log_level).run_stdio_async()
    finally:
        await ctx.close()


async def _serve_forwarder(settings: Settings, flush_interval: float) -> None:
    forwarder = forwarder_for(settings)
    logger.info("fortium-metrics mcp: forwarding to %s (spool: %s)", forwarder.api_url, forwarder.spool.directory)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(forwarder.flush_periodically, flush_interval)
            await build_mcp(None, forwarder=forwarder, log_level=settings.log_level).run_stdio_async()
            tasks.cancel_scope.cancel()
        with anyio.move_on_after(FINAL_FLUSH_SECONDS):  # the client hung up: one last, bounded try
            try:
                await forwarder.flush()
            except Exception as error:  # what stays queued goes next time
                logger.warning("fortium-metrics mcp: final flush failed: %s", error)
    finally:
        await forwarder.aclose()
