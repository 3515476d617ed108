"""Authentication for every HTTP entry point (REST, MCP over HTTP, OTLP, hooks, dashboard).

One Starlette authentication middleware (built on the MCP SDK's bearer backend, so MCP tools can
call `get_access_token()`) resolves a credential into our principal:
* `Authorization: Bearer fmk_…` — an API key (auth.py);
* `Authorization: Bearer <JWT>` — a signed-in person's access token (accounts.py);
* no header but the `fm_access` cookie — a browser session; its state-changing requests must
  carry the CSRF token (web/session_cookies.py).
REST handlers call `request_principal(request)`, which turns a missing or bad credential into our
401 envelope with the precise reason.
"""
from __future__ import annotations

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.auth.provider import AccessToken
from starlette.middleware import Middleware
from starlette.authentication import AuthCredentials
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request

from ..accounts import Accounts
from ..apikeys import KEY_PREFIX
from ..auth import principal_for_api_key
from ..config import Settings
from ..errors import Unauthorized
from ..principal import Principal
from ..store.uow import Store
from .session_cookies import check_csrf


class PrincipalToken(AccessToken):
    """The SDK's access token, carrying our principal (MCP tools read it via get_access_token())."""

    principal: Principal
    via_cookie: bool = False


class CredentialVerifier:
    """The SDK's TokenVerifier protocol over API keys and access tokens."""

    def __init__(self, store: Store, accounts: Accounts | None = None) -> None:
        self.store, self.accounts = store, accounts

    async def resolve(self, token: str | None) -> Principal:
        """The principal, or Unauthorized saying precisely why not."""
        if token and not token.startswith(KEY_PREFIX) and token.count(".") == 2 and self.accounts is not None:
            return await self.accounts.principal_for_access_token(token)
        return await principal_for_api_key(self.store, token)

    async def verify_token(self, token: str) -> PrincipalToken | None:
        try:
            principal = await self.resolve(token)
        except Unauthorized:
            return None
        return PrincipalToken(token=token, client_id=principal.label, scopes=sorted(principal.scopes),
                              subject=str(principal.user_id or ""), principal=principal)



class HeaderOrCookieBackend(BearerAuthBackend):
    """Bearer header first; a browser's session cookie only when no header was sent."""

    async def authenticate(self, conn: HTTPConnection):
        # MCP is for programs with keys: a browser cookie is never a credential there.
        if (conn.headers.get("authorization") or not conn.cookies.get("fm_access")
                or conn.url.path.startswith(("/mcp", "/sse", "/messages"))):
            return await super().authenticate(conn)
        token = await self.token_verifier.verify_token(conn.cookies["fm_access"])
        if token is None:
            return None
        token.via_cookie = True
        return AuthCredentials(token.scopes), AuthenticatedUser(token)


def auth_middleware(verifier: CredentialVerifier, settings: Settings | None = None) -> list[Middleware]:
    """Authentication, then (given the settings) what depends on the authenticated principal:
    the per-organisation rate limit, and the body size limit (web/middleware.py)."""
    from .middleware import limit_middleware  # it imports this module (scope_principal)

    return [
        Middleware(AuthenticationMiddleware, backend=HeaderOrCookieBackend(verifier)),
        Middleware(AuthContextMiddleware),
        *(limit_middleware(settings) if settings is not None else ()),
    ]


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def request_principal(connection: HTTPConnection) -> Principal:
    token = getattr(connection.scope.get("user"), "access_token", None)
    if isinstance(token, PrincipalToken):
        if token.via_cookie and isinstance(connection, Request):
            await check_csrf(connection)
        return token.principal
    # Not authenticated: ask again only to say precisely why (missing, malformed, revoked…).
    ctx = connection.app.state.ctx
    await CredentialVerifier(ctx.store, ctx.accounts).resolve(bearer_token(connection) or connection.cookies.get("fm_access"))
    raise Unauthorized("invalid credentials")


def scope_principal(scope) -> Principal | None:
    """The principal the authentication middleware resolved for this request, if any (no I/O)."""
    token = getattr(scope.get("user"), "access_token", None)
    return token.principal if isinstance(token, PrincipalToken) else None
