"""SSO end to end: a real OpenID provider (`oidc-provider`, Node, tests/sso_provider) and the real
app under uvicorn, driven by an httpx "browser" that follows redirects and fills the provider's
forms. On SQLite and PostgreSQL.

Without Node.js these tests skip with the reason; with FORTIUM_TEST_REQUIRE_SSO=1 (CI) they fail.
"""
from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import jwt
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from conftest import operator_store
from fortium_metrics import sso
from fortium_metrics.accounts import Accounts
from fortium_metrics.config import load_settings
from fortium_metrics.errors import ConfigError, Forbidden, Invalid, NotFound, Unauthorized
from fortium_metrics.jwt_tokens import TokenKeys
from fortium_metrics.login_guard import LoginGuard
from fortium_metrics.principal import Principal
from fortium_metrics.store.models import AuditLog, Organization, SsoConfig, User
from fortium_metrics.store.uow import Store
from fortium_metrics.web.sso_api import FLOW_COOKIE, sso_routes

pytestmark = pytest.mark.anyio
PROVIDER_DIR = Path(__file__).parent / "sso_provider"
CALLBACK = "/api/auth/sso/callback"


# -- the provider ---------------------------------------------------------------------------------
def _unavailable(reason: str):
    if os.environ.get("FORTIUM_TEST_REQUIRE_SSO") == "1":
        pytest.fail(f"{reason} (required: FORTIUM_TEST_REQUIRE_SSO=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("SSO tests need Node.js (node and npm) to run the OpenID provider in tests/sso_provider")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            _unavailable(f"`npm ci` in tests/sso_provider failed: {done.stderr[-2000:]}")
    return node


@dataclass
class OidcProvider:
    issuer: str
    process: subprocess.Popen

    def register_client(self, redirect_uri: str) -> tuple[str, str]:
        """Dynamic client registration: a confidential client of our redirect URI."""
        answer = httpx.post(f"{self.issuer}/reg", json={
            "redirect_uris": [redirect_uri], "grant_types": ["authorization_code"], "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic"})
        assert answer.status_code == 201, answer.text
        return answer.json()["client_id"], answer.json()["client_secret"]


def _start_provider(node: str, log: Path, jwks_mode: str):
    env = {**os.environ, "JWKS_MODE": jwks_mode}
    with log.open("w") as errors:
        process = subprocess.Popen([node, "provider.mjs", "0"], cwd=PROVIDER_DIR, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=errors)
    try:
        found = re.search(r"listening on (\S+)", process.stdout.readline())  # printed once it listens
        if not found:
            pytest.fail(f"the OpenID provider did not start: {log.read_text()}")
        discovery = found.group(1) + "/.well-known/openid-configuration"
        deadline = time.monotonic() + 30
        while httpx.get(discovery).status_code != 200:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        yield OidcProvider(found.group(1), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def oidc_provider(node, tmp_path_factory):
    yield from _start_provider(node, tmp_path_factory.mktemp("oidc") / "provider.log", "published")


@pytest.fixture(scope="session")
def rogue_provider(node, tmp_path_factory):
    """Signs ID tokens with a key its JWKS does not publish."""
    yield from _start_provider(node, tmp_path_factory.mktemp("oidc") / "rogue.log", "foreign")


# -- the browser ------------------------------------------------------------------------------------
class Browser:
    """A cookie jar that follows redirects and submits the provider's development forms."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=30)

    async def start(self, org_slug: str) -> str:
        response = await self.http.get(f"{self.app_url}/api/auth/sso/{org_slug}/login")
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def through_provider(self, url: str, account: str, abort: bool = False) -> str:
        """Sign in at the provider; returns the URL it sends the browser back to (not yet visited)."""
        response = await self.http.get(url)
        for _ in range(20):
            if response.is_redirect:
                url = urljoin(str(response.url), response.headers["location"])
                if url.startswith(self.app_url + CALLBACK):
                    return url
                response = await self.http.get(url)
                continue
            assert response.status_code == 200, response.text
            page = response.text
            if abort:
                cancel = re.search(r'href="([^"]*/abort)"', page).group(1)
                response = await self.http.get(urljoin(str(response.url), html.unescape(cancel)))
                continue
            prompt = re.search(r'name="prompt" value="(\w+)"', page).group(1)
            action = urljoin(str(response.url), html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1)))
            form = {"prompt": prompt, **({"login": account, "password": "any"} if prompt == "login" else {})}
            response = await self.http.post(action, data=form)
        raise AssertionError("the provider never redirected back")

    async def sign_in(self, org_slug: str, account: str, **options) -> httpx.Response:
        callback = await self.through_provider(await self.start(org_slug), account, **options)
        return await self.http.get(callback)

    async def aclose(self) -> None:
        await self.http.aclose()


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- the app ----------------------------------------------------------------------------------------
@dataclass
class Sso:
    url: str
    settings: object
    store: Store
    provider: OidcProvider

    async def configure(self, principal: Principal, provider: OidcProvider | None = None, **options) -> str:
        provider = provider or self.provider
        client_id, secret = provider.register_client(sso.redirect_uri(self.settings))
        async with self.store.unit_of_work(principal) as uow:
            await sso.configure_sso(uow, self.settings, provider.issuer, client_id, secret, **options)
        return client_id

    def accounts(self) -> Accounts:
        keys = TokenKeys.from_settings(self.settings)
        return Accounts(self.store, keys, LoginGuard(self.settings), timedelta(days=30))


@pytest.fixture
async def env(live_server, store, people, oidc_provider):
    if not any(getattr(r, "path", "") == CALLBACK for r in live_server.app.routes):
        live_server.app.router.routes.extend(sso_routes())  # until app.py lists them
    settings = live_server.app.state.settings
    assert sso.redirect_uri(settings) == live_server.url + CALLBACK
    yield Sso(live_server.url, settings, store, oidc_provider)


@pytest.fixture
async def browser(env):
    browser = Browser(env.url)
    yield browser
    await browser.aclose()


async def user_by_email(store: Store, org, email: str) -> User | None:
    async with store.unit_of_work(Principal.org_admin(org)) as uow:
        return await uow.session.scalar(select(User).where(User.email == email))


async def audit_actions(store: Store, org) -> list[tuple[str, dict]]:
    async with store.unit_of_work(Principal.org_admin(org)) as uow:
        entries = await uow.session.scalars(select(AuditLog).order_by(AuditLog.occurred_at))
        return [(e.action, e.details) for e in entries]


def assert_refused(response: httpx.Response, status: int, field: str, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["request_id"], error
    for word in words:
        assert word in error["message"], error["message"]
    assert "fm_access" not in response.cookies
    assert f'{FLOW_COOKIE}=""' in response.headers["set-cookie"]  # the flow cookie is single-use


# -- success ----------------------------------------------------------------------------------------
async def test_login_redirects_to_the_provider_with_pkce_and_an_opaque_flow_cookie(env, browser, people):
    client_id = await env.configure(people.alice)
    response = await browser.http.get(f"{env.url}/api/auth/sso/{people.slug_a}/login")

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(env.provider.issuer + "/auth?")
    query = query_of(location)
    assert {k: query[k] for k in ("response_type", "client_id", "redirect_uri", "scope", "code_challenge_method")} == {
        "response_type": "code", "client_id": client_id, "redirect_uri": env.url + CALLBACK,
        "scope": "openid email profile", "code_challenge_method": "S256"}
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32 and len(query["code_challenge"]) == 43
    cookie = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/api/auth/sso", "SameSite=lax"):
        assert attribute in cookie
    flow = response.cookies[FLOW_COOKIE]
    assert query["state"] not in flow and query["nonce"] not in flow  # encrypted, not just signed


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_id_tokens_with_none_or_hmac_algorithms_are_refused(env, alg):
    from fortium_metrics.sso_oidc import OidcClient

    oidc = OidcClient()
    meta = await oidc.metadata(env.provider.issuer)
    now = int(time.time())
    claims = {"iss": meta.issuer, "aud": "client", "sub": "alice", "iat": now, "exp": now + 60, "nonce": "n"}
    token = jwt.encode(claims, "a-client-secret-used-as-an-hmac-key" if alg == "HS256" else None, algorithm=alg)
    with pytest.raises(Unauthorized, match=f"signed with algorithm '{alg}'; accepted: RS256"):
        await oidc.validate_id_token(meta, token, "client", "n")


async def test_alice_signs_in_with_sso_matched_by_email_then_by_external_id(env, browser, people):
    await env.configure(people.alice)
    response = await browser.sign_in(people.slug_a, "alice")

    assert response.status_code == 302 and response.headers["location"] == "/", response.text
    assert {"fm_access", "fm_refresh", "fm_csrf"} <= set(response.cookies)
    principal = await env.accounts().principal_for_access_token(response.cookies["fm_access"])
    assert (principal.organization_id, principal.user_id, principal.role) == \
        (people.org_a, people.alice.user_id, "admin")
    alice = await user_by_email(env.store, people.org_a, "alice@a.test")
    assert alice.external_id == f"{env.provider.issuer}#alice"
    actions = await audit_actions(env.store, people.org_a)
    assert ("user.sso_link", {"external_id": alice.external_id}) in actions
    assert actions[-1] == ("login", {"method": "sso"})

    # The next sign-in finds her by the provider's subject, not her (now different) address.
    async with env.store.unit_of_work(people.alice) as uow:
        (await uow.session.get(User, (people.org_a, alice.id))).email = "alice.renamed@a.test"
    again = await Browser(env.url).sign_in(people.slug_a, "alice")
    assert again.status_code == 302, again.text
    principal = await env.accounts().principal_for_access_token(again.cookies["fm_access"])
    assert principal.user_id == people.alice.user_id and principal.label == "alice.renamed@a.test"
    assert await user_by_email(env.store, people.org_a, "alice@a.test") is None  # no duplicate was made


async def test_the_session_cookie_authenticates_api_requests(env, browser, people, live_server):
    if getattr(live_server.app.state.ctx, "accounts", None) is None:
        pytest.skip("this app does not authenticate browser session cookies yet (AppContext.accounts)")
    await env.configure(people.alice)
    assert (await browser.sign_in(people.slug_a, "alice")).status_code == 302

    response = await browser.http.get(f"{env.url}/api/v1/summary")  # the jar sends fm_access
    assert response.status_code == 200, response.text
    async with httpx.AsyncClient() as stranger:
        assert (await stranger.get(f"{env.url}/api/v1/summary")).status_code == 401


async def test_an_unknown_person_is_created_just_in_time_with_the_default_role(env, browser, people):
    await env.configure(people.alice, default_role="manager")
    response = await browser.sign_in(people.slug_a, "newbie")

    assert response.status_code == 302, response.text
    newbie = await user_by_email(env.store, people.org_a, "newbie@a.test")
    assert (newbie.role, newbie.name, newbie.external_id) == ("manager", "Newbie", f"{env.provider.issuer}#newbie")
    principal = await env.accounts().principal_for_access_token(response.cookies["fm_access"])
    assert (principal.organization_id, principal.user_id, principal.role) == (people.org_a, newbie.id, "manager")
    assert [a for a, _ in await audit_actions(env.store, people.org_a)][-2:] == ["user.create", "login"]


# -- refusals ---------------------------------------------------------------------------------------
async def test_without_just_in_time_provisioning_an_unknown_person_is_refused(env, browser, people):
    await env.configure(people.alice, jit=False)
    response = await browser.sign_in(people.slug_a, "newbie")

    assert_refused(response, 403, "email", "newbie@a.test", "just-in-time provisioning is off")
    assert await user_by_email(env.store, people.org_a, "newbie@a.test") is None
    assert (await audit_actions(env.store, people.org_a))[-1][0] == "login.failed"


async def test_a_forged_state_is_refused(env, browser, people):
    await env.configure(people.alice)
    callback = await browser.through_provider(await browser.start(people.slug_a), "alice")

    response = await browser.http.get(with_query(callback, state="forged-by-an-attacker"))
    assert_refused(response, 401, "state", "does not match")
    failed = (await audit_actions(env.store, people.org_a))[-1]
    assert failed[0] == "login.failed" and failed[1]["method"] == "sso"


async def test_a_callback_in_a_browser_that_did_not_start_the_sign_in_is_refused(env, browser, people):
    """Login CSRF: an attacker's valid callback URL opened in the victim's browser."""
    await env.configure(people.alice)
    callback = await browser.through_provider(await browser.start(people.slug_a), "alice")

    async with httpx.AsyncClient() as victim:
        response = await victim.get(callback)
    assert response.status_code == 401 and response.json()["error"]["field"] == "state"
    assert "no SSO sign-in is in progress" in response.json()["error"]["message"]
    assert "fm_access" not in response.cookies


async def test_an_id_token_with_another_nonce_is_refused(env, browser, people):
    await env.configure(people.alice)
    authorize = await browser.start(people.slug_a)
    callback = await browser.through_provider(with_query(authorize, nonce="an-injected-nonce"), "alice")

    response = await browser.http.get(callback)
    assert_refused(response, 401, "id_token", "nonce mismatch")


async def test_an_id_token_signed_by_an_unknown_key_is_refused(env, browser, people, rogue_provider):
    await env.configure(people.alice, provider=rogue_provider)
    response = await browser.sign_in(people.slug_a, "alice")

    assert_refused(response, 401, "id_token", "unknown key", "test-signing-key")
    assert (await user_by_email(env.store, people.org_a, "alice@a.test")).external_id is None


async def test_a_provider_error_such_as_access_denied_is_reported(env, browser, people):
    await env.configure(people.alice)
    response = await browser.sign_in(people.slug_a, "alice", abort=True)

    assert_refused(response, 401, "error", "access_denied", "End-User aborted interaction")
    failed = (await audit_actions(env.store, people.org_a))[-1]
    assert failed[0] == "login.failed" and "access_denied" in failed[1]["reason"]


async def test_an_unverified_email_cannot_take_over_an_existing_account(env, browser, people):
    await env.configure(people.alice)
    response = await browser.sign_in(people.slug_a, "mallory")  # claims alice@a.test, unverified

    assert_refused(response, 403, "email", "has not verified alice@a.test")
    assert (await user_by_email(env.store, people.org_a, "alice@a.test")).external_id is None


async def test_a_deactivated_account_is_refused(env, browser, people):
    await env.configure(people.alice)
    async with env.store.unit_of_work(people.alice) as uow:
        (await uow.session.get(User, (people.org_a, people.bob.user_id))).active = False
    response = await browser.sign_in(people.slug_a, "bob")

    assert_refused(response, 403, "email", "deactivated")


async def test_an_organisation_without_sso_has_no_sign_in(env, browser, people):
    for slug in (people.slug_a, "no-such-org"):
        response = await browser.http.get(f"{env.url}/api/auth/sso/{slug}/login")
        assert response.status_code == 404 and response.json()["error"]["field"] == "org", response.text
        assert FLOW_COOKIE not in response.cookies


# -- tenancy ------------------------------------------------------------------------------------------
async def test_charlies_organisation_sso_cannot_sign_into_org_a(env, browser, people):
    client_a = await env.configure(people.alice, jit=False)
    client_b = await env.configure(Principal.org_admin(people.org_b))  # org B's administrator
    assert client_a != client_b

    # Alice's provider account, through org B's sign-in, lands in org B (a new account), never in A.
    response = await browser.sign_in(people.slug_b, "alice")
    assert response.status_code == 302, response.text
    principal = await env.accounts().principal_for_access_token(response.cookies["fm_access"])
    in_b = await user_by_email(env.store, people.org_b, "alice@a.test")
    assert (principal.organization_id, principal.user_id) == (people.org_b, in_b.id)
    assert in_b.id != people.alice.user_id
    assert (await user_by_email(env.store, people.org_a, "alice@a.test")).external_id is None

    # A code issued to org B's client, replayed into org A's sign-in (even with A's own state), is refused.
    attacker, victim = Browser(env.url), Browser(env.url)
    code_b = query_of(await attacker.through_provider(await attacker.start(people.slug_b), "alice"))["code"]
    state_a = query_of(await victim.start(people.slug_a))["state"]
    response = await victim.http.get(f"{env.url}{CALLBACK}?" + urlencode(
        {"code": code_b, "state": state_a, "iss": env.provider.issuer}))
    assert_refused(response, 401, "code", "refused the authorization code")
    await attacker.aclose(), await victim.aclose()

    # And Charlie's organisation cannot even see org A's configuration.
    async with env.store.unit_of_work(Principal.org_admin(people.org_b)) as uow:
        assert (await sso.get_sso(uow)).client_id == client_b
    async with env.store.unit_of_work(people.charlie) as uow:
        assert [c.client_id for c in await uow.session.scalars(select(SsoConfig))] == [client_b]


# -- configuration --------------------------------------------------------------------------------
OLD_KEY, NEW_KEY = "o" * 48, "n" * 48


async def test_only_an_admin_configures_sso_and_the_secret_is_stored_encrypted(store, people, tmp_path):
    settings = load_settings(data_dir=tmp_path, secret_key=OLD_KEY)
    read_only = frozenset({"ingest", "read"})
    for principal, reason in ((replace(people.bob, scopes=people.alice.scopes), "your role (developer) may not"),
                              (replace(people.alice, scopes=read_only), "lacks the 'admin' scope"),  # her API key
                              (Principal.system("ops"), "inside one organisation")):
        with pytest.raises(Forbidden, match=re.escape(reason)):
            async with store.unit_of_work(principal) as uow:
                await sso.configure_sso(uow, settings, "https://idp.example.com", "id", "secret")
    async with store.unit_of_work(people.alice) as uow:
        await sso.configure_sso(uow, settings, "https://idp.example.com", "id", "the-client-secret")
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        config = await sso.get_sso(uow)
    assert "the-client-secret" not in config.client_secret
    assert sso.client_secret(settings, config) == "the-client-secret"
    assert ("sso.configure", {"client_id": "id", "jit": True, "default_role": "developer"}) in \
        await audit_actions(store, people.org_a)
    async with store.unit_of_work(people.charlie) as uow:
        with pytest.raises(NotFound):
            await sso.get_sso(uow)

    # The secret key can rotate: the old one, kept among the previous keys, still decrypts.
    rotated = load_settings(data_dir=tmp_path, secret_key=NEW_KEY, previous_secret_keys=[OLD_KEY])
    assert sso.client_secret(rotated, config) == "the-client-secret"
    with pytest.raises(ConfigError, match="sso configure"):
        sso.client_secret(load_settings(data_dir=tmp_path, secret_key=NEW_KEY), config)


@pytest.mark.parametrize("issuer, scopes", [("http://idp.example.com", "openid"), ("ftp://idp", "openid"),
                                            ("https://idp.example.com/?tenant=1", "openid"),
                                            ("https://idp.example.com", "email profile")])
async def test_configuration_refuses_plain_http_issuers_and_scopes_without_openid(store, people, tmp_path, issuer,
                                                                                  scopes):
    with pytest.raises(Invalid, match="^(issuer|scopes): "):
        async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
            await sso.configure_sso(uow, load_settings(data_dir=tmp_path), issuer, "id", "secret", scopes)


def test_cli_configures_and_shows_sso_without_printing_the_secret(backend, tmp_path, monkeypatch):
    from fortium_metrics.cli import main
    from fortium_metrics.sso_cli import sso_group

    if "sso" not in main.commands:
        main.add_command(sso_group)  # until cli.py registers it
    monkeypatch.setenv("FORTIUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORTIUM_DATABASE_URL", backend.url)
    monkeypatch.setenv("FORTIUM_ADMIN_DATABASE_URL", backend.owner_url)  # `org create`
    monkeypatch.setenv("FORTIUM_PUBLIC_URL", "https://metrics.example.com")
    slug = f"sso-{os.urandom(3).hex()}"

    def cli(*args: str):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    assert cli("org", "create", "Acme", "--slug", slug)[0] == 0
    code, output = cli("sso", "configure", "--org", slug, "--issuer", "https://idp.example.com", "--client-id",
                       "acme-app", "--client-secret", "s3cr3t-value", "--no-jit", "--default-role", "manager")
    assert code == 0, output
    assert "https://metrics.example.com/api/auth/sso/callback" in output
    code, output = cli("sso", "show", "--org", slug)
    assert code == 0 and "s3cr3t-value" not in output, output
    for expected in ("issuer: https://idp.example.com", "client id: acme-app", "just-in-time provisioning: off",
                     "default role: manager", f"sign-in URL: https://metrics.example.com/api/auth/sso/{slug}/login"):
        assert expected in output
    assert cli("sso", "configure", "--org", slug, "--issuer", "http://idp.example.com", "--client-id", "x",
               "--client-secret", "y")[0] == 1
    assert cli("sso", "remove", "--org", slug)[0] == 0
    assert cli("sso", "show", "--org", slug)[0] == 1

    async def stored() -> list:
        store = operator_store(backend)
        try:
            async with store.unit_of_work(Principal.system("test")) as uow:
                return list(await uow.session.scalars(
                    select(AuditLog.action).join(Organization, Organization.id == AuditLog.organization_id)
                    .where(Organization.slug == slug, AuditLog.action.like("sso.%"))))
        finally:
            await store.dispose()

    assert sorted(asyncio.run(stored())) == ["sso.configure", "sso.remove"]
