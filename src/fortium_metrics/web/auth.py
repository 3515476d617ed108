"""Bearer authentication for every HTTP entry point (REST, MCP over HTTP, OTLP, hooks).

One Starlette authentication middleware (the MCP SDK's, so MCP tools can call
`get_access_token()`) resolves `Authorization: Bearer <api key>` through `auth.py`. REST
handlers call `request_principal(request)`, which turns a missing or bad credential into our 401
envelope with the precise reason.
"""
from __future__ import annotations

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import AccessToken
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection

from ..auth import principal_for_api_key
from ..config import Settings
from ..errors import Unauthorized
from ..principal import Principal
from ..store.uow import Store


class PrincipalToken(AccessToken):
    """The SDK's access token, carrying our principal (MCP tools read it via get_access_token())."""

    principal: Principal


class ApiKeyVerifier:
    """The SDK's TokenVerifier protocol over our API keys."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def verify_token(self, token: str) -> PrincipalToken | None:
        try:
            principal = await principal_for_api_key(self.store, token)
        except Unauthorized:
            return None
        return PrincipalToken(token=token, client_id=principal.label, scopes=sorted(principal.scopes),
                              subject=str(principal.user_id or ""), principal=principal)


def auth_middleware(verifier: ApiKeyVerifier, settings: Settings | None = None) -> list[Middleware]:
    """Authentication, then (given the settings) what depends on the authenticated principal:
    the per-organisation rate limit, and the body size limit (web/middleware.py)."""
    from .middleware import limit_middleware  # it imports this module (scope_principal)

    return [
        Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(verifier)),
        Middleware(AuthContextMiddleware),
        *(limit_middleware(settings) if settings is not None else ()),
    ]


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def request_principal(connection: HTTPConnection) -> Principal:
    principal = scope_principal(connection.scope)
    if principal is not None:
        return principal
    # Not authenticated: ask again only to say precisely why (missing, malformed, revoked…).
    await principal_for_api_key(connection.app.state.ctx.store, bearer_token(connection))
    raise Unauthorized("invalid API key")


def scope_principal(scope) -> Principal | None:
    """The principal the authentication middleware resolved for this request, if any (no I/O)."""
    token = getattr(scope.get("user"), "access_token", None)
    return token.principal if isinstance(token, PrincipalToken) else None
