"""Sign-in over HTTP: tokens in the body and in cookies, CSRF for cookie sessions, refresh
rotation, sign-out, generic failures and throttling."""
from __future__ import annotations

import logging

import pytest

from rest_support import app_for, bearer, client_for, client_of, redis_url
from fortium_metrics.accounts import set_password
from fortium_metrics.principal import Principal

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def signed_up(store, people):
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await set_password(uow, "alice@a.test", PASSWORD)
        await set_password(uow, "bob@a.test", PASSWORD)
    return people


async def login(api, people, email="alice@a.test", password=PASSWORD):
    return await api.post("/api/auth/login", json={"email": email, "password": password, "org": people.slug_a})


async def test_login_returns_tokens_and_sets_secure_cookies(api, signed_up):
    response = await login(api, signed_up)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["role"] == "admin" and body["refresh_token"].startswith("fmr_")
    cookies = {c.split("=")[0]: c for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["fm_access"].lower() and "samesite=lax" in cookies["fm_access"].lower()
    assert "httponly" in cookies["fm_refresh"].lower() and "path=/api/auth" in cookies["fm_refresh"].lower()
    assert "httponly" not in cookies["fm_csrf"].lower()
    me = await api.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.json()["user_id"] == str(signed_up.alice.user_id)


async def test_cookie_sessions_need_the_csrf_token_for_changes(api, signed_up):
    body = (await login(api, signed_up)).json()  # the client now holds the cookies
    assert (await api.get("/api/auth/me")).status_code == 200  # reads need no CSRF token
    refused = await api.post("/api/teams", json={"name": "Cookies"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    wrong = await api.post("/api/teams", json={"name": "Cookies"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    allowed = await api.post("/api/teams", json={"name": "Cookies"}, headers={"X-CSRF-Token": body["csrf_token"]})
    assert allowed.status_code == 201


async def test_refresh_rotates_through_the_cookie_and_replay_is_refused(api, signed_up):
    first = (await login(api, signed_up)).json()
    rotated = await api.post("/api/auth/refresh")  # the fm_refresh cookie
    assert rotated.status_code == 200 and rotated.json()["refresh_token"] != first["refresh_token"]
    replay = await api.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and "already used" in replay.json()["error"]["message"]
    assert (await api.get("/api/auth/me", headers=bearer(rotated.json()["access_token"]))).status_code == 401


async def test_logout_ends_the_session(api, signed_up):
    body = (await login(api, signed_up)).json()
    assert (await api.post("/api/auth/logout", json={"refresh_token": body["refresh_token"]})).status_code == 204
    assert (await api.get("/api/auth/me", headers=bearer(body["access_token"]))).status_code == 401


async def test_failures_are_generic_then_throttled(api, signed_up):
    wrong = await login(api, signed_up, password="not the password")
    unknown = await login(api, signed_up, email="nobody@a.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    for _ in range(4):
        await login(api, signed_up, password="not the password")
    locked = await login(api, signed_up)
    assert locked.status_code == 429


async def test_a_developer_token_cannot_administer(api, signed_up):
    token = (await login(api, signed_up, email="bob@a.test")).json()["access_token"]
    response = await api.post("/api/users", json={"email": "x@a.test"}, headers=bearer(token))
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


async def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(store, backend, tmp_path, signed_up):
    async with app_for(store, backend, tmp_path) as app:
        async with client_of(app, "198.51.100.1") as stranger, client_of(app, "192.0.2.7") as owner:
            guesses = [(await login(stranger, signed_up, password=f"guess {i}")).status_code for i in range(6)]
            stranger_right = await login(stranger, signed_up)
            owner_right = await login(owner, signed_up)
    assert guesses == [401] * 5 + [429] and stranger_right.status_code == 429
    assert owner_right.status_code == 200


async def test_past_the_accounts_ceiling_only_clients_that_have_not_failed_may_try(store, backend, tmp_path, signed_up):
    async with app_for(store, backend, tmp_path, login_failures_per_account="3/15minutes") as app:
        clients = [client_of(app, f"198.51.100.{i}") for i in range(1, 6)]
        try:
            for client in clients[:3]:  # three addresses, one wrong guess each: the ceiling is reached
                assert (await login(client, signed_up, password="wrong")).status_code == 401
            failed_before = await login(clients[0], signed_up)
            fresh_wrong = await login(clients[3], signed_up, password="wrong")
            fresh_wrong_again = await login(clients[3], signed_up)
            fresh_right = await login(clients[4], signed_up)
        finally:
            for client in clients:
                await client.aclose()
    assert failed_before.status_code == 429  # has failed for this e-mail: refused past the ceiling
    assert fresh_wrong.status_code == 401 and fresh_wrong_again.status_code == 429  # one guess per address
    assert fresh_right.status_code == 200  # the owner, from an address that has not failed, gets in


@pytest.mark.parametrize("trusted, forwarded_gets_in", [("", False), ("127.0.0.0/8", True)])
async def test_x_forwarded_for_is_believed_only_from_trusted_proxies(store, backend, tmp_path, signed_up,
                                                                     trusted, forwarded_gets_in):
    """A client locked out by its address got in again by naming another in X-Forwarded-For."""
    async with app_for(store, backend, tmp_path, login_failures_per_client="3/15minutes", trusted_proxies=trusted) as app:
        async with client_of(app, "127.0.0.1") as client:
            for i in range(3):  # three e-mails: only the per-address budget is spent
                await login(client, signed_up, email=f"nobody{i}@a.test")
            direct = await login(client, signed_up)
            forwarded = await client.post("/api/auth/login", json={"email": "alice@a.test", "password": PASSWORD,
                                                                   "org": signed_up.slug_a},
                                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert direct.status_code == 429
    assert forwarded.status_code == (200 if forwarded_gets_in else 429)


async def test_sign_in_works_while_redis_is_unreachable_and_health_says_so(store, backend, tmp_path, signed_up, caplog):
    """FORTIUM_REDIS_URL pointing at a dead port made every sign-in a 500."""
    async with client_for(store, backend, tmp_path, redis_url="redis://127.0.0.1:1/0") as api:
        with caplog.at_level(logging.WARNING, logger="fortium_metrics.login_guard"):
            wrong = await login(api, signed_up, password="not the password")
            right = await login(api, signed_up)
            throttled = [(await login(api, signed_up, email="bob@a.test", password="no")).status_code for _ in range(6)]
        health = await api.get("/healthz")
    assert wrong.status_code == 401 and right.status_code == 200
    assert throttled == [401] * 5 + [429]  # still throttled, in the process's memory
    assert len([r for r in caplog.records if "Redis unreachable" in r.getMessage()]) == 1
    assert health.status_code == 200 and health.json()["redis"] == "degraded" and health.json()["database"] == "ok"


async def test_health_reports_redis_ok_or_not_configured(store, backend, tmp_path):
    async with client_for(store, backend, tmp_path) as api:
        assert (await api.get("/healthz")).json()["redis"] == "not configured"
    async with client_for(store, backend, tmp_path, redis_url=redis_url()) as api:
        assert (await api.get("/healthz")).json()["redis"] == "ok"
