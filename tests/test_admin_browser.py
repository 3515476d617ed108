"""The administration flows end to end in Chromium against the real app under uvicorn, with a
real SMTP server (aiosmtpd) receiving the invitations. Skipped with the reason when no browser
is installed; never skipped in CI (tests/browser_support.py)."""
from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from admin_support import link_in, smtp_server
from conftest import running_server
from test_browser import browser  # noqa: F401 (the module's Chromium)
from fortium_metrics.config import load_settings
from fortium_metrics.context import AppContext
from fortium_metrics.demo import DEMO_PASSWORD, Person, fill_demo

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # pages do not depend on the database
NEW_PASSWORD = "a brand new passphrase"


@dataclass
class Site:
    url: str
    admin: Person
    inbox: object


@pytest.fixture
def site(backend, tmp_path):
    async def fill():
        ctx = AppContext.build(load_settings(database_url=backend.url, data_dir=tmp_path / "demo"))
        try:
            return await fill_demo(ctx, "browser-org", days=1, people=7, seed=5)
        finally:
            await ctx.close()

    with smtp_server() as (host, port, inbox):
        with running_server(backend, tmp_path / "live", smtp_host=host, smtp_port=port, smtp_security="none") as server:
            with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps an event loop in this thread
                cast = pool.submit(asyncio.run, fill()).result().people
            yield Site(server.url, cast[0], inbox)


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context.new_page()
    context.close()


def sign_in(page, site: Site, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(site.url + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[method=post] button[type=submit]")


def submit(page, form: str) -> None:
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")


def test_create_a_user_then_change_their_role(page, site):
    sign_in(page, site, site.admin.email)
    page.click("[data-nav=admin]")
    page.wait_for_url("**/admin/users")
    page.fill("#create-email", "dana@browser.test")
    page.fill("#create-name", "Dana Browser")
    page.fill("#create-password", "short")
    submit(page, "form[method=post][action='/admin/users']")
    assert "12 characters" in page.text_content("#create-password-error")
    assert page.get_attribute("#create-password", "aria-invalid") == "true"
    assert page.input_value("#create-email") == "dana@browser.test"  # kept; the password is not
    page.fill("#create-password", NEW_PASSWORD)
    submit(page, "form[method=post][action='/admin/users']")
    assert "can now sign in" in page.text_content("[data-notice]")
    page.fill("#q", "dana")
    submit(page, "form.toolbar")
    page.click("[data-person='dana@browser.test'] a")
    page.select_option("#role-role", "manager")
    submit(page, "form[action$='/role']")
    assert "is now manager" in page.text_content("[data-notice]")


def test_an_invitation_is_mailed_and_accepted(page, site, browser):  # noqa: F811
    sign_in(page, site, site.admin.email)
    page.goto(site.url + "/admin/users")
    page.fill("#invite-email", "invitee@browser.test")
    page.fill("#invite-name", "Ivy")
    submit(page, "form[action='/admin/users/invite']")
    assert "Invitation sent to invitee@browser.test" in page.text_content("[data-notice]")
    assert "invitee@browser.test" in page.text_content("[data-pending]")
    [mail] = site.inbox.messages
    link = link_in(mail)
    stranger = browser.new_context()
    try:
        other = stranger.new_page()
        other.goto(link)
        assert other.text_content("[data-invited-email]") == "invitee@browser.test"
        other.fill("#password", NEW_PASSWORD)
        other.fill("#confirm", NEW_PASSWORD)
        submit(other, "form[method=post]")
        other.wait_for_url("**/connect**")
        assert other.text_content("[data-user-name]").strip() == "Ivy"
        assert other.get_attribute("[data-check-state]", "data-check-state") == "waiting"
        other.goto(link)
        assert "not valid any more" in other.text_content("main")
    finally:
        stranger.close()


def test_create_a_team_and_add_a_member(page, site):
    sign_in(page, site, site.admin.email)
    page.goto(site.url + "/admin/teams")
    page.fill("#create-name", "Browser Team")
    submit(page, "form[action='/admin/teams']")
    page.wait_for_url("**/admin/teams/browser-team**")
    options = page.eval_on_selector_all("#member-user option", "os => os.map(o => o.value).filter(Boolean)")
    page.select_option("#member-user", options[0])
    page.select_option("#member-role", "lead")
    submit(page, "form[action$='/members']")
    assert page.get_attribute("[data-members] tbody tr", "data-member") == options[0]
    assert "Lead" in page.text_content(f"[data-member='{options[0]}']")


def test_a_new_key_and_its_snippets_are_shown_once_and_copied(page, site):
    sign_in(page, site, site.admin.email)
    page.goto(site.url + "/admin/keys")
    page.fill("#create-name", "laptop of the test")
    submit(page, "form[action='/admin/keys']")
    secret = page.input_value("[data-secret]")
    assert secret.startswith("fmk_")
    assert f"Authorization=Bearer {secret}" in page.text_content("#new-settings")
    assert site.url + "/mcp" in page.text_content("#new-mcp")
    page.click("[data-copy='#new-secret']")
    page.wait_for_function("document.querySelector(\"[data-copy='#new-secret']\").textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.reload()  # the page was the answer to the post: a reload must not create or show it again
    page.goto(site.url + "/admin/keys")
    assert page.query_selector("[data-secret]") is None and secret not in page.content()
    assert "laptop of the test" in page.text_content("[data-keys]")


def test_a_settings_error_is_shown_next_to_the_field(page, site):
    sign_in(page, site, site.admin.email)
    page.goto(site.url + "/admin/settings")
    page.fill("#settings-data_retention_days", "5000")
    submit(page, "form[data-settings]")
    assert "between 1 and 3650" in page.text_content("#settings-data_retention_days-error").lower()
    assert page.get_attribute("#settings-data_retention_days", "aria-invalid") == "true"
    page.fill("#settings-data_retention_days", "120")
    page.fill("#settings-timezone", "Europe/Paris")
    submit(page, "form[data-settings]")
    assert page.text_content("[data-notice]").strip() == "Settings saved."
    assert page.input_value("#settings-timezone") == "Europe/Paris"


def test_the_audit_log_filters(page, site):
    sign_in(page, site, site.admin.email)
    page.goto(site.url + "/admin/settings")
    page.fill("#settings-data_retention_days", "200")
    submit(page, "form[data-settings]")
    page.goto(site.url + "/admin/audit")
    page.fill("#audit-action", "org.settings")
    submit(page, "form.toolbar")
    assert "action=org.settings" in page.url
    actions = page.eval_on_selector_all("[data-action]", "rows => rows.map(r => r.dataset.action)")
    assert actions and set(actions) == {"org.settings"}
    assert "data_retention_days" in page.text_content("[data-audit] tbody")
    assert re.search(r"action=org\.settings", page.get_attribute("[data-export]", "href"))
