"""Drive the engine like a channel would (through tests/testbot.py), and read what the customer got."""
from __future__ import annotations

from dataclasses import dataclass

from bot.app import Runtime
from handlers.messages import IncomingFile, Reply
from tests.testbot import Customer

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GOOD_ID = "11010519491231002X"


@dataclass
class Chat:
    """One customer as the applications tests write it (``send`` and ``press`` give the replies),
    over the TestBot's ``Customer``: the one way tests talk to the bot."""

    runtime: Runtime
    chat_id: str = "c1"
    user_id: str = "u1"
    channel: str = "web"

    @property
    def customer(self) -> Customer:
        return Customer(self.runtime, self.chat_id, self.user_id, self.channel)

    def send(self, text: str = "", button: str | None = None, file: bytes | None = None,
             name: str = "photo.png") -> list[Reply]:
        files = [IncomingFile(data=file, name=name)] if file is not None else []
        return self.customer.send(text, button, files)

    def press(self, payload: str) -> list[Reply]:
        return self.send(button=payload)

    def outbox_texts(self, after: int = 0) -> list[str]:
        """Every message queued for this chat (replies and notifications), in order."""
        return self.customer.outbox_texts(after)

    def last_outbox_id(self) -> int:
        return self.customer.last_outbox_id()


def payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies for b in r.buttons]


def text(replies: list[Reply]) -> str:
    return "\n---\n".join(r.text for r in replies)
