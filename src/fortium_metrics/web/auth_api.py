"""Sign-in endpoints: POST /api/auth/login, /refresh, /logout and GET /api/auth/me.

API clients use the tokens in the JSON body; browsers get the same tokens as cookies (see
session_cookies.py) plus a CSRF token. Failures are deliberately generic (no hint whether an
e-mail exists); repeated failures are throttled (429 with Retry-After semantics in the message).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..accounts import TokenPair
from ..validation import SPACE_CLASS
from ..errors import Unauthorized
from .auth import request_principal
from .bodies import parse_body
from .errors import ErrorEnvelope
from .openapi import Operation, documented
from .session_cookies import REFRESH, clear_session, new_csrf_token, set_session


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)
    email: str = Field(max_length=320)  # any other wrong e-mail: the same 401 as a wrong password
    password: str = Field(max_length=1024, pattern=f"[^{SPACE_CLASS}]", description="Not only spaces (the ends are stripped).")
    org: str | None = Field(None, max_length=64, description="Organisation slug; needed only when the e-mail "
                            "has accounts in several organisations.")


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(None, description="Omit to use the fm_refresh cookie (browsers).")


class SessionOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    csrf_token: str = Field(description="Echo in X-CSRF-Token on state-changing requests made with cookies.")
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str


class MeOut(BaseModel):
    user_id: uuid.UUID | None
    organization_id: uuid.UUID
    role: str
    scopes: list[str]
    kind: str


def _session_response(request: Request, pair: TokenPair) -> JSONResponse:
    csrf = new_csrf_token()
    body = SessionOut(access_token=pair.access_token, expires_at=pair.access_expires_at, refresh_token=pair.refresh_token,
                      refresh_expires_at=pair.refresh_expires_at, csrf_token=csrf, user_id=pair.user_id,
                      organization_id=pair.organization_id, role=pair.role)
    response = JSONResponse(body.model_dump(mode="json"))
    set_session(response, pair, request.app.state.settings, csrf)
    return response


_FAIL = {401: ("Wrong e-mail or password (deliberately not saying which).", ErrorEnvelope),
         429: ("Too many failed sign-ins for this e-mail or client; wait and retry.", ErrorEnvelope)}


@documented(Operation(summary="Sign in with e-mail and password", tag="auth", body=LoginBody, public=True,
                      responses={200: ("Tokens (also set as cookies).", SessionOut), **_FAIL},
                      examples={"login": {"email": "alice@example.com", "password": "correct horse battery"}}))
async def login(request: Request) -> JSONResponse:
    body = await parse_body(request, LoginBody)
    client = request.client.host if request.client else "unknown"
    pair = await request.app.state.ctx.accounts.login(body.email, body.password, client, body.org)
    return _session_response(request, pair)


async def _refresh_token(request: Request) -> str:
    body = await parse_body(request, RefreshBody) if (await request.body()).strip() else RefreshBody()
    token = body.refresh_token or request.cookies.get(REFRESH)
    if not token:
        raise Unauthorized("refresh_token: missing (send it in the body or the fm_refresh cookie)")
    return token


@documented(Operation(summary="Exchange a refresh token for new tokens (the old one stops working)", tag="auth",
                      body=RefreshBody, public=True,
                      responses={200: ("New tokens.", SessionOut),
                                 401: ("Invalid, expired, revoked or replayed refresh token.", ErrorEnvelope)},
                      examples={"token": {"refresh_token": "fmr_..."}}))
async def refresh(request: Request) -> JSONResponse:
    pair = await request.app.state.ctx.accounts.refresh(await _refresh_token(request))
    return _session_response(request, pair)


@documented(Operation(summary="Sign out: revoke this sign-in's refresh and access tokens", tag="auth",
                      body=RefreshBody, public=True,
                      responses={204: ("Signed out (also when the token was unknown or already revoked).", None),
                                 401: ("No refresh token in the body or the fm_refresh cookie.", ErrorEnvelope)},
                      examples={"token": {"refresh_token": "fmr_..."}}))
async def logout(request: Request) -> Response:
    await request.app.state.ctx.accounts.logout(await _refresh_token(request))
    response = Response(status_code=204)
    clear_session(response)
    return response


@documented(Operation(summary="Who am I (the credential's principal)", tag="auth", responses={200: ("The caller.", MeOut)}))
async def me(request: Request) -> JSONResponse:
    principal = await request_principal(request)
    return JSONResponse(MeOut(user_id=principal.user_id, organization_id=principal.organization_id, role=principal.role,
                              scopes=sorted(principal.scopes), kind=principal.kind).model_dump(mode="json"))


def auth_routes() -> list[BaseRoute]:
    return [Route("/api/auth/login", login, methods=["POST"]), Route("/api/auth/refresh", refresh, methods=["POST"]),
            Route("/api/auth/logout", logout, methods=["POST"]), Route("/api/auth/me", me, methods=["GET"])]
