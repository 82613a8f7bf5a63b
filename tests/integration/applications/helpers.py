"""Drive the engine like a channel would, and read what the customer got."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.app import Runtime
from handlers.messages import Incoming, IncomingFile, Reply
from storage.models import OutboxItem

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GOOD_ID = "11010519491231002X"


@dataclass
class Chat:
    runtime: Runtime
    chat_id: str = "c1"
    user_id: str = "u1"
    channel: str = "web"

    def send(self, text: str = "", button: str | None = None, file: bytes | None = None,
             name: str = "photo.png") -> list[Reply]:
        files = [IncomingFile(data=file, name=name)] if file is not None else []
        return self.runtime.engine.handle(Incoming(channel=self.channel, chat_id=self.chat_id, user_id=self.user_id,
                                                   text=text, button=button, files=files)).replies

    def press(self, payload: str) -> list[Reply]:
        return self.send(button=payload)

    def outbox_texts(self, after: int = 0) -> list[str]:
        """Every message queued for this chat (replies and notifications), in order."""
        with self.runtime.services.db.session() as s:
            return [i.payload["text"] for i in s.scalars(
                select(OutboxItem).where(OutboxItem.channel == self.channel, OutboxItem.chat_id == self.chat_id,
                                         OutboxItem.id > after).order_by(OutboxItem.id))]

    def last_outbox_id(self) -> int:
        with self.runtime.services.db.session() as s:
            return max([0] + list(s.scalars(select(OutboxItem.id))))


def payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies for b in r.buttons]


def text(replies: list[Reply]) -> str:
    return "\n---\n".join(r.text for r in replies)
