"""SSO endpoints (browser redirects; adapters over sso.py).

* `GET /api/auth/sso/{org}/login`  302 to the organisation's provider; sets the flow cookie.
* `GET /api/auth/sso/callback`     the provider sends the browser back here: validated, the
  session cookies set (web/session_cookies.py), 302 to `/`. Any failure answers our JSON error
  envelope with the reason, and the flow cookie is always cleared (it is single-use).
"""
from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts import Accounts
from ..errors import DomainError
from ..jwt_tokens import TokenKeys
from ..login_guard import LoginGuard
from ..sso import FLOW_TTL_SECONDS, SsoService
from .errors import ErrorEnvelope, domain_error_handler
from .openapi import Operation, documented
from .session_cookies import _secure, set_session

FLOW_COOKIE = "fm_sso_flow"
FLOW_PATH = "/api/auth/sso"


def sso_service(request: Request) -> SsoService:
    """One per app (it caches provider metadata): `app.state.sso`, built on first use if the
    app factory did not."""
    state = request.app.state
    if getattr(state, "sso", None) is None:
        state.sso = SsoService(state.ctx.store, state.settings)
    return state.sso


def accounts(request: Request) -> Accounts:
    """The app's `Accounts` (`ctx.accounts`), or one built on first use where the context has none."""
    state = request.app.state
    found = getattr(state.ctx, "accounts", None)
    if found is not None:
        return found
    if getattr(state, "accounts", None) is None:
        settings = state.settings
        state.accounts = Accounts(state.ctx.store, TokenKeys.from_settings(settings), LoginGuard(settings),
                                  timedelta(days=settings.refresh_token_days))
    return state.accounts


class CallbackQuery(BaseModel):
    model_config = ConfigDict(extra="allow")  # providers add their own parameters
    code: str | None = Field(None, description="The authorization code (success).")
    state: str | None = Field(None, description="Must equal the state kept in this browser's flow cookie.")
    iss: str | None = Field(None, description="The provider's issuer (RFC 9207), checked when sent or advertised.")
    error: str | None = Field(None, description="The provider's error code, e.g. access_denied.")
    error_description: str | None = Field(None, description="The provider's explanation of `error`.")


@documented(Operation(
    summary="Start signing in with the organisation's identity provider", tag="auth", public=True,
    description="Redirects the browser to the provider (authorization code flow with PKCE) and sets the "
                "short-lived HttpOnly flow cookie the callback checks.",
    responses={302: ("Redirect to the provider's authorization endpoint.", None),
               404: ("No SSO sign-in is configured for that organisation.", ErrorEnvelope),
               502: ("The provider's discovery document could not be read.", ErrorEnvelope)}))
async def sso_login(request: Request) -> Response:
    """GET /api/auth/sso/{org}/login -> 302 to the provider."""
    settings = request.app.state.settings
    start = await sso_service(request).start_login(request.path_params["org"])
    response = RedirectResponse(start.url, status_code=302)
    # Lax: the browser must send it on the top-level redirect back from the provider.
    response.set_cookie(FLOW_COOKIE, start.flow_cookie, max_age=FLOW_TTL_SECONDS, path=FLOW_PATH, httponly=True,
                        secure=_secure(settings), samesite="lax")
    response.headers["cache-control"] = "no-store"
    return response


@documented(Operation(
    summary="Finish an SSO sign-in (the provider's redirect URI)", tag="auth", public=True, query=CallbackQuery,
    responses={302: ("Signed in: session cookies set, redirect to /.", None),
               401: ("Bad or missing state, provider error (e.g. access_denied), rejected code or ID token "
                     "(nonce, signature, unknown key, issuer, audience, expiry).", ErrorEnvelope),
               403: ("No account and just-in-time provisioning off, unverified e-mail, or deactivated.", ErrorEnvelope),
               502: ("The provider could not be reached.", ErrorEnvelope)}))
async def sso_callback(request: Request) -> Response:
    """GET /api/auth/sso/callback?code=...&state=... -> session cookies, 302 to /."""
    settings = request.app.state.settings
    params = request.query_params
    try:
        user = await sso_service(request).finish_login(
            params.get("code"), params.get("state"), request.cookies.get(FLOW_COOKIE), iss=params.get("iss"),
            error=params.get("error"), error_description=params.get("error_description"))
        pair = await accounts(request).sign_in_user(user, "sso")
    except DomainError as error:
        response = await domain_error_handler(request, error)
    else:
        response = RedirectResponse("/", status_code=302)
        set_session(response, pair, settings)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, secure=_secure(settings), httponly=True, samesite="lax")
    response.headers["cache-control"] = "no-store"
    return response


def sso_routes() -> list[BaseRoute]:
    return [Route("/api/auth/sso/callback", sso_callback, methods=["GET"]),
            Route("/api/auth/sso/{org}/login", sso_login, methods=["GET"])]
