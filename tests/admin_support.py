"""Shared by the administration tests: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps
what it receives, signing in with the page's form, and reading forms' tokens."""
from __future__ import annotations

import email
import re
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from html import unescape

from aiosmtpd.controller import Controller

HTML = {"accept": "text/html"}


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


@contextmanager
def smtp_server():
    """(host, port, inbox): an SMTP server running in its own thread until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, inbox
    finally:
        controller.stop()


def link_in(message: Message) -> str:
    body = message.get_payload(decode=True).decode()
    return re.search(r"https?://\S+/invite/fmi_\S+", body).group(0)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def field_error(page: str, field_id: str) -> str:
    """The error shown under a field, lowercased (to compare with the services' messages); "" if none."""
    found = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', page)
    return unescape(found.group(1)).lower() if found else ""
