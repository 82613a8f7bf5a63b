"""Result notices by e-mail through the notifier, against a local SMTP server (aiosmtpd)."""
from __future__ import annotations

import socket
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller

from bot.app import Runtime
from domain import applications as apps
from tests.integration.applications.helpers import GOOD_ID, PNG, Chat


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.mark.slow  # builds the full runtime: the real embedding models
def test_customer_with_an_email_gets_each_notice_by_email(settings, smtp):
    inbox, port = smtp
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
                                             "smtp_from": "desk@example.com"})
    runtime = Runtime.build(configured, channels={})
    try:
        chat = Chat(runtime)
        chat.send("我要办理开户")
        for value in ("李四", GOOD_ID):
            chat.send(value)
        chat.send(file=PNG)
        chat.send(file=PNG, name="back.png")
        chat.send("13912345678")
        chat.send("li.si@example.com")
        done = chat.press("application:confirm")[0].text
        reference = done.split("受理编号：")[1].split("\n")[0]

        assert runtime.jobs.run_due() == 1  # the receipt, by e-mail too
        assert len(inbox.messages) == 1 and "已受理" in message_from_bytes(inbox.messages[0][1]).get_payload(decode=True).decode()

        with runtime.services.db.session() as s:
            app = apps.by_reference(s, reference)
            apps.transition(s, runtime.services, app, "initial_review", apps.Actor("staff", "rita"),
                            comment="材料齐全")
        assert runtime.jobs.run_due() == 1
        assert len(inbox.messages) == 2
        recipients, raw = inbox.messages[1]
        message = message_from_bytes(raw)
        assert recipients == ["li.si@example.com"] and message["From"] == "desk@example.com"
        assert reference in str(make_header(decode_header(message["Subject"])))
        body = message.get_payload(decode=True).decode("utf-8")
        assert "已进入初审" in body and "材料齐全" in body
        assert "已进入初审" in chat.outbox_texts()[-1]  # the chat got it too
    finally:
        runtime.services.db.dispose()
