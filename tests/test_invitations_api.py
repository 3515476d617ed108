"""Invitations over REST (/api/invitations): the same service as the People page and the CLI.
Without SMTP the answer carries the link, which works once; with a real SMTP server (aiosmtpd)
the link goes by mail only; bad input names its field; other organisations and roles are refused."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from admin_support import HTML, csrf_of, link_in, smtp_server
from rest_support import app_for, bearer, client_of

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(keys):
    return bearer(keys["alice_admin"])


async def _accept(api, link: str) -> int:
    """Accepting the link in a browser: the form's status when there is no form (404), else the post's."""
    path = urlsplit(link).path
    form = await api.get(path, headers=HTML)
    if form.status_code != 200:
        return form.status_code
    done = await api.post(path, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_of(form.text)})
    return done.status_code


async def test_without_smtp_the_link_comes_back_works_once_and_leaves_the_pending_list(api, admin):
    made = await api.post("/api/invitations", json={"email": " Kim@A.test ", "name": "Kim", "role": "manager"},
                          headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["email"], body["role"], body["emailed"]) == ("kim@a.test", "manager", False)
    assert body["link"].startswith("http://testserver/invite/fmi_")
    pending = (await api.get("/api/invitations", headers=admin)).json()
    assert [(i["id"], i["email"]) for i in pending] == [(body["id"], "kim@a.test")]
    assert "link" not in pending[0] and "token" not in str(pending[0])  # the link is shown once, at creation
    assert await _accept(api, body["link"]) == 303
    assert await _accept(api, body["link"]) == 404  # once only
    assert (await api.get("/api/invitations", headers=admin)).json() == []
    users = (await api.get("/api/users?q=kim", headers=admin)).json()["items"]
    assert [(u["email"], u["role"]) for u in users] == [("kim@a.test", "manager")]


async def test_with_smtp_the_link_goes_by_mail_only(store, backend, tmp_path, keys):
    with smtp_server() as (host, port, inbox):
        async with app_for(store, backend, tmp_path, smtp_host=host, smtp_port=port, smtp_security="none",
                           smtp_from="Metrics <metrics@a.test>", public_url="https://metrics.a.test") as app:
            async with client_of(app) as api:
                made = await api.post("/api/invitations", json={"email": "lee@a.test"}, headers=bearer(keys["alice_admin"]))
    assert made.status_code == 201 and made.json()["emailed"] is True and made.json()["link"] is None
    [mail] = inbox.messages
    assert mail["To"] == "lee@a.test" and link_in(mail).startswith("https://metrics.a.test/invite/fmi_")


async def test_withdrawing_stops_the_link_and_inviting_again_replaces_it(api, admin):
    first = (await api.post("/api/invitations", json={"email": "sam@a.test"}, headers=admin)).json()
    second = (await api.post("/api/invitations", json={"email": "sam@a.test"}, headers=admin)).json()
    assert await _accept(api, first["link"]) == 404  # replaced by the second
    gone = await api.delete(f"/api/invitations/{second['id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["email"] == "sam@a.test"
    assert await _accept(api, second["link"]) == 404
    assert (await api.get("/api/invitations", headers=admin)).json() == []


@pytest.mark.parametrize("body, field", [({"email": "not-an-address"}, "email"), ({"email": "a@b.co", "role": "king"}, "role"),
                                         ({"email": "a@b.co", "extra": 1}, "extra"), ({}, "email")])
async def test_bad_bodies_name_the_field_and_invite_nobody(api, admin, body, field):
    refused = await api.post("/api/invitations", json=body, headers=admin)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    assert (await api.get("/api/invitations", headers=admin)).json() == []


async def test_an_existing_user_is_a_conflict(api, admin):
    taken = await api.post("/api/invitations", json={"email": "bob@a.test"}, headers=admin)
    assert taken.status_code == 409 and taken.json()["error"]["field"] == "email"


async def test_developers_and_other_organisations_are_refused(api, admin, keys):
    made = (await api.post("/api/invitations", json={"email": "pat@a.test"}, headers=admin)).json()
    bob, charlie = bearer(keys["bob"]), bearer(keys["charlie"])  # a developer of A; someone of B
    assert (await api.post("/api/invitations", json={"email": "x@a.test"}, headers=bob)).status_code == 403
    assert (await api.delete(f"/api/invitations/{made['id']}", headers=bob)).status_code == 403
    assert (await api.delete(f"/api/invitations/{made['id']}", headers=charlie)).status_code in (403, 404)
    assert "pat@a.test" not in (await api.get("/api/invitations", headers=charlie)).text
    assert [i["email"] for i in (await api.get("/api/invitations", headers=admin)).json()] == ["pat@a.test"]


async def test_withdrawing_by_address_means_its_pending_invitation(api, admin):
    old = (await api.post("/api/invitations", json={"email": "ria@a.test"}, headers=admin)).json()
    assert (await api.delete(f"/api/invitations/{old['id']}", headers=admin)).status_code == 200
    new = (await api.post("/api/invitations", json={"email": "ria@a.test"}, headers=admin)).json()
    gone = await api.delete("/api/invitations/Ria@A.test", headers=admin)  # the address has two invitations now
    assert gone.status_code == 200 and gone.json()["id"] == new["id"]
    assert await _accept(api, new["link"]) == 404
    missing = await api.delete("/api/invitations/nobody@a.test", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "invitation"
