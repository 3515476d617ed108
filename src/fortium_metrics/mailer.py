"""Sending e-mail (invitations) through the SMTP server of the FORTIUM_SMTP_* settings.

The standard library's smtplib, in a worker thread so the event loop never waits on the network.
Without FORTIUM_SMTP_HOST nothing is sent: `MailNotConfigured`, and the page shows the link to
pass on by hand instead.
"""
from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from .config import Settings
from .errors import DomainError


class MailNotConfigured(DomainError):
    code, status = "mail_not_configured", 503


class MailFailed(DomainError):
    code, status = "mail_failed", 502


def message(settings: Settings, to: str, subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = settings.smtp_from, to, subject
    mail.set_content(text)
    return mail


def _send(settings: Settings, mail: EmailMessage) -> None:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    if settings.smtp_security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            client.login(settings.smtp_username, password)
        client.send_message(mail)


async def send(settings: Settings, to: str, subject: str, text: str) -> None:
    if not settings.smtp_host:
        raise MailNotConfigured("e-mail is not set up on this server (FORTIUM_SMTP_HOST)")
    try:
        await asyncio.to_thread(_send, settings, message(settings, to, subject, text))
    except (OSError, smtplib.SMTPException) as error:  # the reason, not where the server is
        raise MailFailed(f"the e-mail to {to} could not be sent: {type(error).__name__}: {error}") from None
