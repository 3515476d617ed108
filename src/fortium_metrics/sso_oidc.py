"""The OpenID Connect relying-party protocol: discovery, code exchange, ID-token validation.

No database and no business rules here (sso.py has those); httpx for HTTP, PyJWT for JWTs.

* Discovery documents and JWK sets are cached per process (`OidcClient` is built once per app).
  A JWK set is fetched again when a token names a key it lacks (the provider rotated), but at
  most once a minute, so forged `kid`s cannot make us hammer the provider.
* ID tokens: the algorithm is pinned to the asymmetric ones the provider advertises — never
  `none`, never HS* (an HMAC "signed" with the client secret, or with a public key read as an
  HMAC secret, proves nothing about the provider) — and iss, aud (+ azp), exp, iat and nonce are
  all required and checked.
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt

from .errors import DomainError, Unauthorized

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_SKEW = 60  # seconds of leeway on exp/iat between us and the provider
DISCOVERY_TTL = 3600.0
JWKS_MIN_REFRESH = 60.0


class ProviderUnavailable(DomainError):
    """The identity provider could not be reached or answered nonsense (not the user's fault)."""

    code, status = "sso_provider_unavailable", 502


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]  # accepted ID-token algorithms: advertised ∩ asymmetric
    auth_methods: tuple[str, ...]
    iss_parameter: bool  # RFC 9207: the authorization response carries `iss`

    @classmethod
    def from_document(cls, issuer: str, doc: dict[str, Any]) -> "ProviderMetadata":
        if doc.get("issuer") != issuer:
            raise ProviderUnavailable(f"issuer: the provider calls itself {doc.get('issuer')!r}, not {issuer!r}; "
                                      "configure exactly its issuer", field="issuer")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise ProviderUnavailable(f"issuer: the provider's discovery document lacks {', '.join(missing)}",
                                      field="issuer")
        methods = doc.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            raise ProviderUnavailable("issuer: the provider does not support PKCE with S256", field="issuer")
        advertised = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in advertised if a in ASYMMETRIC_ALGORITHMS)
        if not algorithms:
            raise ProviderUnavailable(f"issuer: the provider signs ID tokens only with {advertised}; an asymmetric "
                                      "algorithm (RS256, ES256, ...) is required", field="issuer")
        return cls(issuer, doc["authorization_endpoint"], doc["token_endpoint"], doc["jwks_uri"],
                   doc.get("userinfo_endpoint"), algorithms,
                   tuple(doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
                   bool(doc.get("authorization_response_iss_parameter_supported")))


@dataclass
class _Jwks:
    keys: list[dict[str, Any]]
    fetched_at: float


@dataclass
class OidcClient:
    """HTTP side of SSO with its caches. `transport` lets tests route httpx elsewhere."""

    timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None
    clock: Any = time.monotonic
    _discovery: dict[str, tuple[float, ProviderMetadata]] = field(default_factory=dict)
    _jwks: dict[str, _Jwks] = field(default_factory=dict)

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, transport=self.transport, follow_redirects=False,
                                 headers={"accept": "application/json"})

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"the identity provider's {what} ({url}) is unreachable: {error!r}") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"the identity provider's {what} ({url}) answered HTTP {response.status_code}")
        return _json_object(response, what)

    async def metadata(self, issuer: str) -> ProviderMetadata:
        cached = self._discovery.get(issuer)
        if cached and self.clock() - cached[0] < DISCOVERY_TTL:
            return cached[1]
        doc = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document")
        meta = ProviderMetadata.from_document(issuer, doc)
        self._discovery[issuer] = (self.clock(), meta)
        return meta

    async def exchange_code(self, meta: ProviderMetadata, client_id: str, client_secret: str, code: str,
                            redirect_uri: str, verifier: str) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier}
        auth = None
        if "client_secret_basic" in meta.auth_methods or "client_secret_post" not in meta.auth_methods:
            # RFC 6749 §2.3.1: both parts are form-encoded before the Basic encoding.
            auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))
        else:
            form.update(client_id=client_id, client_secret=client_secret)
        try:
            async with self._http() as http:
                response = await http.post(meta.token_endpoint, data=form, auth=auth)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"the identity provider's token endpoint is unreachable: {error!r}") from None
        body = _json_object(response, "token endpoint")
        if response.status_code != 200:
            reason = body.get("error") or f"HTTP {response.status_code}"
            detail = f": {body['error_description']}" if body.get("error_description") else ""
            if response.status_code >= 500:
                raise ProviderUnavailable(f"the identity provider's token endpoint failed ({reason}{detail})")
            raise Unauthorized(f"code: the identity provider refused the authorization code ({reason}{detail})",
                               field="code")
        if not isinstance(body.get("id_token"), str):
            raise Unauthorized("id_token: the identity provider returned no ID token (is `openid` among the scopes?)",
                               field="id_token")
        return body

    async def userinfo(self, meta: ProviderMetadata, access_token: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(meta.userinfo_endpoint, headers={"authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"the identity provider's userinfo endpoint is unreachable: {error!r}") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"the identity provider's userinfo endpoint answered HTTP {response.status_code}")
        return _json_object(response, "userinfo endpoint")

    async def validate_id_token(self, meta: ProviderMetadata, token: str, client_id: str, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("id_token: malformed ID token", field="id_token") from None
        alg = header.get("alg")
        if alg not in meta.algorithms:
            raise Unauthorized(f"id_token: signed with algorithm {alg!r}; accepted: {', '.join(meta.algorithms)}",
                               field="id_token")
        key = await self._signing_key(meta, header.get("kid"), alg)
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=client_id, issuer=meta.issuer,
                                leeway=CLOCK_SKEW, options={"require": ["iss", "aud", "sub", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("id_token: the ID token has expired (check the clocks)", field="id_token") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("id_token: the ID token's signature is invalid", field="id_token") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("id_token: the ID token was issued to another client", field="id_token") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("id_token: the ID token comes from another issuer", field="id_token") from None
        except jwt.PyJWTError as error:
            raise Unauthorized(f"id_token: invalid ID token ({error})", field="id_token") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise Unauthorized("id_token: the ID token names several audiences but not us as its azp", field="id_token")
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
            raise Unauthorized("id_token: nonce mismatch: this ID token was not issued for this browser's sign-in "
                               "(replayed or injected); start again", field="id_token")
        return claims

    async def _signing_key(self, meta: ProviderMetadata, kid: str | None, alg: str) -> jwt.PyJWK:
        jwk = _pick(await self._key_set(meta.jwks_uri, refresh=False), kid)
        if jwk is None:  # perhaps rotated since we fetched: look once more (rate-limited)
            jwk = _pick(await self._key_set(meta.jwks_uri, refresh=True), kid)
        if jwk is None:
            raise Unauthorized(f"id_token: signed with an unknown key (kid {kid!r} is not in the provider's JWKS)",
                               field="id_token")
        if jwk.get("alg") not in (None, alg):
            raise Unauthorized(f"id_token: key {kid!r} is published for {jwk['alg']}, not {alg}", field="id_token")
        try:
            return jwt.PyJWK(jwk, algorithm=alg)
        except jwt.PyJWTError:
            raise Unauthorized(f"id_token: key {kid!r} cannot verify {alg} signatures", field="id_token") from None

    async def _key_set(self, uri: str, refresh: bool) -> list[dict[str, Any]]:
        cached = self._jwks.get(uri)
        if cached and (not refresh or self.clock() - cached.fetched_at < JWKS_MIN_REFRESH):
            return cached.keys
        keys = (await self._get_json(uri, "JWKS")).get("keys")
        keys = [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
        self._jwks[uri] = _Jwks(keys, self.clock())
        return keys


def _pick(keys: list[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    signing = [k for k in keys if k.get("use") in (None, "sig")]
    if kid is None:  # allowed by the spec when the set holds a single signing key
        return signing[0] if len(signing) == 1 else None
    return next((k for k in signing if k.get("kid") == kid), None)


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"the identity provider's {what} answered HTTP {response.status_code} "
                                  "without a JSON object")
    return body
