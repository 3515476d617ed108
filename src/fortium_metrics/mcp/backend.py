"""Where the tools send their work: the services in this process, or a remote server.

Tools are thin adapters; they only build event dicts or read-side closures and hand them to a
`Backend`. `LocalBackend` calls the services with the caller's principal (HTTP: the API key's;
stdio embedded: the configured local identity). The forwarder (`forwarder.py`) implements the
same protocol against a remote server, so every tool works in both modes.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token

from ..context import AppContext
from ..errors import Unauthorized
from ..ingest import IngestResult, record_events
from ..principal import Principal
from ..store.uow import UnitOfWork
from ..web.auth import PrincipalToken

T = TypeVar("T")
SOURCE = "mcp"


class RecordOutcome(IngestResult):
    """The service's result, plus what a forwarder could not deliver yet."""

    queued: int = 0


class Backend(Protocol):
    remote: bool

    async def record(self, items: list[dict[str, Any]]) -> RecordOutcome: ...

    async def read(self, run: Callable[[UnitOfWork], Awaitable[T]]) -> T: ...


def caller(identity: Principal | None) -> Principal:
    """The authenticated caller: the API key's principal over HTTP, else the stdio identity."""
    token = get_access_token()
    if isinstance(token, PrincipalToken):
        return token.principal
    if identity is not None:
        return identity
    raise Unauthorized("no caller identity (connect over HTTP with an API key)")


class LocalBackend:
    remote = False

    def __init__(self, ctx: AppContext, identity: Principal | None = None) -> None:
        self.ctx = ctx
        self.identity = identity

    async def record(self, items: list[dict[str, Any]]) -> RecordOutcome:
        result = await record_events(self.ctx.ingestor, caller(self.identity), items, SOURCE)
        return RecordOutcome(**result.model_dump())

    async def read(self, run: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self.ctx.store.unit_of_work(caller(self.identity)) as uow:
            return await run(uow)
