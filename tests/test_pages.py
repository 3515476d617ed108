"""The dashboard's pages in-process (httpx, both databases): sign-in form, session renewal,
sign-out, who sees which page, the filter state in the URL. Browsers: tests/test_browser.py."""
from __future__ import annotations

import json
import re
from datetime import datetime, time
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from starlette.datastructures import QueryParams

from fortium_metrics.accounts import set_password
from fortium_metrics.principal import Principal
from fortium_metrics.web.pages.filters import parse_filters
from fortium_metrics.web.pages.session import safe_next

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html"}


@pytest.fixture
async def signed_up(store, people):
    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await set_password(uow, "alice@a.test", PASSWORD)
        await set_password(uow, "bob@a.test", PASSWORD)
    return people


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def sign_in(api, people, email="alice@a.test", password=PASSWORD, next_path="/overview"):
    form = await api.get("/login", headers=HTML)
    return await api.post("/login", data={"email": email, "password": password, "org": people.slug_a,
                                          "next": next_path, "csrf_token": csrf_of(form.text)})


def replace_cookie(api, name: str, value: str) -> None:
    """Overwrite the cookie the server set (same domain and path), as an expiring browser would."""
    cookie = next(c for c in api.cookies.jar if c.name == name)
    api.cookies.set(name, value, domain=cookie.domain, path=cookie.path)


def context_of(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="fm-context">(.*?)</script>', page, re.S).group(1))


async def test_signed_out_people_are_sent_to_sign_in_and_come_back(api):
    assert (await api.get("/")).headers["location"] == "/login"
    response = await api.get("/team?range=7d", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote("/team?range=7d", safe="")


async def test_the_sign_in_form_carries_the_double_submit_token(api):
    page = await api.get("/login")
    assert page.status_code == 200 and csrf_of(page.text) == api.cookies["fm_csrf"]
    assert 'autocomplete="current-password"' in page.text and 'href="#main"' in page.text


async def test_a_form_without_the_token_is_refused(api, signed_up):
    response = await api.post("/login", data={"email": "alice@a.test", "password": PASSWORD})
    assert response.status_code == 403 and "expired" in response.text and "fm_access" not in response.cookies


async def test_a_wrong_password_is_said_next_to_the_field(api, signed_up):
    response = await sign_in(api, signed_up, password="wrong password!")
    assert response.status_code == 401
    assert re.search(r'id="password"[^>]*aria-invalid="true" aria-describedby="password-error"', response.text)
    assert 'id="password-error">Wrong e-mail or password.' in response.text
    assert 'value="alice@a.test"' in response.text  # what was typed stays, the password does not


async def test_missing_fields_are_named(api):
    form = await api.get("/login")
    response = await api.post("/login", data={"email": "", "password": "", "csrf_token": csrf_of(form.text)})
    assert response.status_code == 422
    assert "Enter your e-mail address." in response.text and "Enter your password." in response.text


async def test_signing_in_sets_the_session_and_goes_to_next(api, signed_up):
    response = await sign_in(api, signed_up, next_path="/models?range=90d")
    assert response.status_code == 303 and response.headers["location"] == "/models?range=90d"
    cookies = {c.split("=")[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["fm_access"] and "httponly" in cookies["fm_refresh"]
    page = await api.get("/models?range=90d", headers=HTML)
    assert page.status_code == 200 and "Alice" in page.text and ">admin<" in page.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/login",
                                    "/api/auth/logout", "overview", "/x\r\nSet-Cookie: a=b", ""])
def test_next_never_leaves_the_site(target):
    assert safe_next(target) == "/overview"


def test_next_keeps_a_path_with_its_query():
    assert safe_next("/team?team=platform&range=7d") == "/team?team=platform&range=7d"


async def test_an_open_redirect_through_sign_in_lands_on_the_overview(api, signed_up):
    response = await sign_in(api, signed_up, next_path="//evil.example/")
    assert response.headers["location"] == "/overview"


async def test_an_expired_access_cookie_is_renewed_with_the_refresh_cookie(api, signed_up):
    await sign_in(api, signed_up)
    old_refresh = api.cookies.get("fm_refresh", path="/api/auth")
    replace_cookie(api, "fm_access", "e.x.pired")
    page = await api.get("/sessions", headers=HTML)
    assert page.headers["location"] == "/api/auth/renew?next=" + quote("/sessions", safe="")
    renewed = await api.get(page.headers["location"])
    assert renewed.status_code == 302 and renewed.headers["location"] == "/sessions"
    assert api.cookies.get("fm_refresh", path="/api/auth") != old_refresh  # rotated
    assert (await api.get("/sessions", headers=HTML)).status_code == 200


async def test_renewal_without_a_working_refresh_cookie_goes_to_sign_in(api):
    api.cookies.set("fm_refresh", "fmr_unknown", path="/api/auth")
    response = await api.get("/api/auth/renew?next=/team")
    assert response.status_code == 302 and response.headers["location"] == "/login?next=%2Fteam"


async def test_signing_out_needs_the_token_and_ends_the_session(api, signed_up):
    await sign_in(api, signed_up)
    page = await api.get("/overview", headers=HTML)
    assert (await api.post("/api/auth/signout", data={"csrf_token": "forged"})).status_code == 403
    access = api.cookies.get("fm_access")
    out = await api.post("/api/auth/signout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 302 and "signed_out=1" in out.headers["location"]
    api.cookies.set("fm_access", access, path="/")  # the old access token is revoked with its sign-in
    assert (await api.get("/overview", headers=HTML)).headers["location"].startswith("/api/auth/renew")
    assert "You are signed out." in (await api.get(out.headers["location"])).text


async def test_the_navigation_shows_only_what_the_role_may_open(api, signed_up):
    await sign_in(api, signed_up, email="bob@a.test")
    page = await api.get("/overview", headers=HTML)
    assert 'data-nav="overview"' in page.text and 'data-nav="admin"' not in page.text and ">developer<" in page.text
    refused = await api.get("/admin", headers=HTML)
    assert refused.status_code == 403 and "Not allowed" in refused.text and "text/html" in refused.headers["content-type"]
    api.cookies.clear()
    await sign_in(api, signed_up)
    assert 'data-nav="admin"' in (await api.get("/overview", headers=HTML)).text
    opened = await api.get("/admin", headers=HTML)  # its first tab (tests/test_admin_pages.py)
    assert opened.status_code == 303 and opened.headers["location"] == "/admin/users"


async def test_filters_live_in_the_url_and_navigation_keeps_them(api, signed_up):
    await sign_in(api, signed_up)
    page = await api.get("/overview?team=platform&range=7d&granularity=week", headers=HTML)
    assert 'href="/team?team=platform&amp;range=7d&amp;granularity=week"' in page.text
    context = context_of(page.text)
    assert context["granularity"] == "week" and context["filters"] == {"team": ["platform"]}
    assert re.search(r'<option value="week" selected>', page.text)


async def test_a_bad_filter_value_is_named_and_replaced(api, signed_up):
    await sign_in(api, signed_up)
    page = await api.get("/overview?granularity=fortnight&range=custom&start=2026-02-30", headers=HTML)
    assert page.status_code == 200
    assert "granularity: &#39;fortnight&#39; is not one of hour, day, week, month" in page.text
    assert "start: &#39;2026-02-30&#39; is not a date" in page.text and "end: choose a date" in page.text


async def test_the_me_page_is_about_the_signed_in_person(api, signed_up):
    await sign_in(api, signed_up, email="bob@a.test")
    page = await api.get("/me?user=someone-else", headers=HTML)
    assert context_of(page.text)["filters"]["user"] == [str(signed_up.bob.user_id)]


async def test_api_clients_get_the_json_envelope_for_a_refused_page(api, keys):
    response = await api.get("/admin", headers={"authorization": f"Bearer {keys['bob']}"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_custom_ranges_are_inclusive_days_in_utc():
    state = parse_filters(QueryParams("range=custom&start=2026-11-01&end=2026-11-30"))
    start, end = state.window()
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
    assert parse_qs(urlsplit(state.query()).query)["start"] == ["2026-11-01"]


def test_days_run_between_the_organisations_own_midnights():
    # New York leaves summer time on 1 November 2026: the range starts at -04:00 and ends at -05:00.
    state = parse_filters(QueryParams("range=custom&start=2026-11-01&end=2026-11-30"), "America/New_York")
    start, end = state.window()
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T04:00:00+00:00", "2026-12-01T05:00:00+00:00")
    # "Today" is the local date (Auckland is 13 hours ahead of UTC: a different date half the day).
    week = parse_filters(QueryParams("range=7d"), "Pacific/Auckland")
    assert week.end == datetime.now(ZoneInfo("Pacific/Auckland")).date()
    assert week.window()[1].astimezone(ZoneInfo("Pacific/Auckland")).time() == time(0)


async def test_a_page_names_and_uses_the_organisations_time_zone(api, signed_up, store):
    from fortium_metrics import orgs

    async with store.unit_of_work(Principal.org_admin(signed_up.org_a)) as uow:
        await orgs.update_settings(uow, timezone="Europe/Paris")
    await sign_in(api, signed_up)
    page = await api.get("/overview?range=custom&start=2026-07-01&end=2026-07-31", headers=HTML)
    assert "(Europe/Paris)" in page.text and "(UTC)" not in page.text
    context = context_of(page.text)
    assert (context["start"], context["end"]) == ("2026-06-30T22:00:00+00:00", "2026-07-31T22:00:00+00:00")


async def test_the_sign_in_page_offers_sso_only_for_an_organisation_that_has_it(api, app, store, people):
    from fortium_metrics import sso

    async with store.unit_of_work(Principal.org_admin(people.org_a)) as uow:
        await sso.configure_sso(uow, app.state.settings, "https://id.example.com", "client", "secret")
    offered = await api.get(f"/login?sso={people.slug_a}", headers=HTML)
    assert f'href="/api/auth/sso/{people.slug_a}/login"' in offered.text
    for slug in (people.slug_b, "no-such-org"):  # without SSO and unknown look the same
        page = await api.get(f"/login?sso={slug}", headers=HTML)
        assert "/api/auth/sso/" not in page.text and "No single sign-on is set up" in page.text


async def test_archived_teams_are_offered_last_and_said_so(api, signed_up, store):
    from fortium_metrics import teams

    async with store.unit_of_work(Principal.org_admin(signed_up.org_a)) as uow:
        await teams.create_team(uow, "Zeta squad", slug="zeta")
        await teams.create_team(uow, "Alpha squad", slug="alpha")
        await teams.update_team(uow, "alpha", archived=True)
    await sign_in(api, signed_up)
    page = await api.get("/overview", headers=HTML)
    bar = re.search(r'<select id="filter-team".*?</select>', page.text, re.S).group(0)
    offered = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', bar)
    assert offered[-1] == ("alpha", "Alpha squad (archived)")
    assert ("zeta", "Zeta squad") in offered[:-1]
