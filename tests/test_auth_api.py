"""Sign-in over HTTP: tokens in the body and in cookies, CSRF for cookie sessions, refresh
rotation, sign-out, generic failures and throttling."""
from __future__ import annotations

import pytest

from rest_support import bearer
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
