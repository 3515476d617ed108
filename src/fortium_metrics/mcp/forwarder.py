"""Forwarder mode of `fortium-metrics mcp`: a stdio MCP server on the laptop that sends what the
record tools produce to a remote fortium-metrics server, and asks that server's MCP endpoint for
what the query tools read.

Events are validated here first (a bad event is refused now, even offline), get a client
`event_id` and a `timestamp` (when it happened, not when it was delivered), and go to
`POST {api_url}/api/v1/metrics/batch`. When the server is unreachable or failing (network error,
5xx, 429), the batch is appended to the durable spool and the tool answers "queued". The spool is
flushed, oldest first, before every new send and every `flush_interval` seconds; while it is not
empty, new batches queue behind it, so the server receives everything in recording order.
"""
from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult
from pydantic_core import to_jsonable_python

from ..errors import Forbidden, Invalid, Unauthorized
from ..ingest import MAX_BATCH, IngestResult, parse_items
from .backend import RecordOutcome
from .spool import Spool

logger = logging.getLogger(__name__)
BATCH_PATH = "/api/v1/metrics/batch"
MCP_PATH = "/mcp"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Unavailable(Exception):
    """The server could not take the batch now; it may later (so: spool it)."""


class Forwarder:
    remote = True

    def __init__(self, api_url: str, api_key: str, spool: Spool, http: httpx.AsyncClient | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.spool = spool
        self._http = http  # given by tests (a mock transport); else made on first use

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.api_url, timeout=TIMEOUT,
                                           headers={"Authorization": f"Bearer {self.api_key}"})
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- recording -------------------------------------------------------------------------
    async def record(self, items: list[dict[str, Any]]) -> RecordOutcome:
        if len(items) > MAX_BATCH:
            raise Invalid(f"events: at most {MAX_BATCH} events per call (got {len(items)})", field="events")
        valid, errors = parse_items(items)
        positions = [index for index, _ in valid]
        batch = [prepare(items[index]) for index in positions]
        outcome = RecordOutcome(errors=errors)
        if batch:
            async with self.spool.locked():
                result = await self._send_after_spool(batch)
            if result is None:
                outcome.queued = len(batch)
            else:
                outcome.accepted, outcome.duplicates = result.accepted, result.duplicates
                outcome.errors += [error.model_copy(update={"index": positions[error.index]}) for error in result.errors]
        outcome.errors.sort(key=lambda error: error.index)
        outcome.rejected = len({error.index for error in outcome.errors})
        return outcome

    async def _send_after_spool(self, batch: list[dict[str, Any]]) -> IngestResult | None:
        """Deliver `batch` behind whatever is spooled; None means it was spooled instead."""
        if await self._flush_locked():
            try:
                return await self._post(batch)
            except Unavailable as error:
                logger.warning("forwarder: %s; queued %d event(s)", error, len(batch))
        self.spool.append(batch)
        return None

    async def flush(self) -> bool:
        """Deliver the spool now; True when it is empty afterwards."""
        async with self.spool.locked():
            return await self._flush_locked()

    async def flush_periodically(self, interval: float) -> None:
        """At start (what an earlier run left), then every `interval` seconds."""
        while True:
            try:
                await self.flush()
            except Exception as error:  # keep flushing later whatever this attempt met
                logger.warning("forwarder: flush failed: %s", error)
            await anyio.sleep(interval)

    async def _flush_locked(self) -> bool:
        while (entry := self.spool.head()) is not None:
            batch, next_offset = entry
            try:
                result = await self._post(batch)
            except Unavailable as error:
                logger.info("forwarder: %s; %d batch(es) stay queued", error, self.spool.pending())
                return False
            except Invalid as error:  # this batch can never be accepted: set it aside, go on
                logger.error("forwarder: the server refused a queued batch: %s", error.message)
                self.spool.reject(batch, error.message)
            else:
                self._keep_rejected_items(batch, result)
            self.spool.advance(next_offset)
        return True

    def _keep_rejected_items(self, batch: list[dict[str, Any]], result: IngestResult) -> None:
        """Items the server refused after the tool already answered "queued" (say, an unknown team):
        nobody is waiting for the answer, so they are kept for a person to inspect."""
        reasons: dict[int, list[str]] = {}
        for error in result.errors:
            reasons.setdefault(error.index, []).append(error.message)
        for index, messages in reasons.items():
            logger.error("forwarder: the server refused queued event %d: %s", index, "; ".join(messages))
            self.spool.reject([batch[index]], "; ".join(messages))

    async def _post(self, batch: list[dict[str, Any]]) -> IngestResult:
        try:
            response = await self.http.post(BATCH_PATH, json={"events": batch})
        except httpx.HTTPError as error:
            raise Unavailable(f"{self.api_url} is unreachable ({type(error).__name__})") from error
        if response.status_code == 200:
            return IngestResult.model_validate(response.json())
        message = _error_message(response)
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise Unavailable(f"{self.api_url} answered {response.status_code}: {message}")
        if response.status_code == 401:
            raise Unauthorized(f"the server refused FORTIUM_API_KEY ({message}); set a valid key")
        if response.status_code == 403:
            raise Forbidden(f"the server refused the request ({message})")
        raise Invalid(f"the server refused the batch ({response.status_code}: {message})")

    async def read(self, run: Any) -> Any:
        raise ToolError("forwarder mode has no local data: query tools are answered by the server")

    # -- reading: the remote server's own MCP tools and resources -------------------------------
    @contextlib.asynccontextmanager
    async def _session(self, statuses: list[int]) -> AsyncIterator[ClientSession]:
        """A fresh client session per read: reads are rare, and nothing is left open between them.
        `statuses` collects the HTTP status codes, which the SDK's client does not expose (a 401
        only surfaces as a generic MCPError)."""
        async def note(response: httpx2.Response) -> None:
            statuses.append(response.status_code)

        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.api_key}"},
                                    timeout=httpx2.Timeout(30.0, connect=5.0), event_hooks={"response": [note]})
        async with client:
            async with streamable_http_client(self.api_url + MCP_PATH, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    yield session

    async def call_remote_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        statuses: list[int] = []
        try:
            async with self._session(statuses) as session:
                return await session.call_tool(name, arguments)
        except Exception as error:
            raise ToolError(f"Error executing tool {name}: {self._failure(error, statuses)}") from None

    async def read_remote_resource(self, uri: str) -> list[ReadResourceContents]:
        statuses: list[int] = []
        try:
            async with self._session(statuses) as session:
                result = await session.read_resource(uri)
        except Exception as error:
            protocol_error = _find(error, MCPError)
            if protocol_error is not None and not _failed(statuses):
                raise protocol_error from None  # e.g. unknown resource: the server's own answer
            raise ResourceError(f"Error reading resource {uri}: {self._failure(error, statuses)}") from None
        return [ReadResourceContents(content=getattr(c, "text", None) or getattr(c, "blob", ""), mime_type=c.mime_type)
                for c in result.contents]

    def _failure(self, error: BaseException, statuses: list[int]) -> str:
        if 401 in statuses:
            return f"the server at {self.api_url} refused FORTIUM_API_KEY (401); set a valid key"
        if _failed(statuses):
            return f"the server at {self.api_url} answered HTTP {max(statuses)}; try again later"
        leaf = _leaf(error)
        return (f"the fortium-metrics server at {self.api_url} is unreachable ({type(leaf).__name__}: {leaf}). "
                "Queries need the server; recording still works offline (events are queued and sent in order "
                "when it is back).")


def prepare(item: dict[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy with a client id (replays dedup) and the time it happened."""
    event = to_jsonable_python(item)
    event.setdefault("event_id", str(uuid.uuid4()))
    event.setdefault("timestamp", datetime.now(timezone.utc).isoformat())
    return event


def _error_message(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["message"]
    except Exception:  # not our envelope (a proxy's page): show the start of it
        return response.text[:200]


def _failed(statuses: list[int]) -> bool:
    return any(status >= 400 for status in statuses)


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _find(error: BaseException, kind: type[BaseException]) -> Any:
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _find(inner, kind)) is not None:
                return found
    return _find(error.__cause__, kind) if error.__cause__ is not None else None
