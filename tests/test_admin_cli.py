"""`user invite` on the command line, through the same service and mail as the People page: the
link printed without an SMTP server, the e-mail received by a real one (aiosmtpd) with it."""
from __future__ import annotations

import re

import pytest

from admin_support import link_in, smtp_server
from cli_support import app_of, cli, unique_slug  # noqa: F401  (fixtures)
from fortium_metrics import invitations

PASSWORD = "correct horse battery staple"


@pytest.fixture
def org(cli) -> str:
    slug = unique_slug()
    assert cli("org", "create", "Acme", "--slug", slug).exit_code == 0
    return slug


def test_without_smtp_the_link_is_printed_and_works(cli, app_of, org):
    done = cli("user", "invite", "--org", org, "--email", "Kim@Acme.test", "--role", "manager",
               FORTIUM_PUBLIC_URL="https://metrics.acme.test")
    assert done.exit_code == 0, done.output
    link = re.search(r"^https://metrics\.acme\.test/invite/(fmi_\S+)$", done.output, re.M)
    assert link, done.output
    user = app_of(lambda app: invitations.accept(app.store, link.group(1), PASSWORD))
    assert (user.email, user.role) == ("kim@acme.test", "manager")
    again = cli("user", "invite", "--org", org, "--email", "kim@acme.test")
    assert again.exit_code == 1 and "already exists" in again.output


def test_with_smtp_the_invitation_is_mailed(cli, org):
    with smtp_server() as (host, port, inbox):
        done = cli("user", "invite", "--org", org, "--email", "lee@acme.test", "--name", "Lee",
                   FORTIUM_SMTP_HOST=host, FORTIUM_SMTP_PORT=str(port), FORTIUM_SMTP_SECURITY="none",
                   FORTIUM_PUBLIC_URL="https://metrics.acme.test")
    assert done.exit_code == 0 and "e-mailed to lee@acme.test" in done.output, done.output
    [mail] = inbox.messages
    assert mail["To"] == "lee@acme.test" and "Acme" in mail["Subject"]
    assert link_in(mail).startswith("https://metrics.acme.test/invite/fmi_") and "fmi_" not in done.output
    assert "Hello Lee" in mail.get_payload(decode=True).decode()
