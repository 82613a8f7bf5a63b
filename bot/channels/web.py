"""The web chat channel: the page's requests become ``Incoming``, outbox rows become JSON.

Its client pulls: replies to a request come back in its response, later ones (notifications,
an agent's words) wait in the outbox until the page polls. So the outbox sender leaves its rows
alone (``pushes = False``) and the routes in bot/web/webchat.py hand them over through here.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.channels.base import Channel, DeferredSendError
from bot.channels.registry import ChannelKind
from bot.channels.toolkit import SentParts
from bot.config import Settings
from handlers.messages import Incoming, IncomingFile, Reply, VoiceMessage
from handlers.services import Services
from storage.db import Database
from storage.models import Attachment, Conversation, Message, OutboxItem, utcnow
from storage.outbox import SENDER

CHANNEL = "web"
#: Most messages one poll of ``/api/chat/messages`` returns.
PAGE = 100


def render(item: OutboxItem) -> dict[str, Any]:
    """One outbox row as the page shows it (DESIGN.md, "Conventions"); ``from`` is bot or staff."""
    payload = item.payload
    out: dict[str, Any] = {"id": item.id, "from": payload.get(SENDER, "bot"), "text": payload.get("text", "")}
    if payload.get("buttons"):
        out["buttons"] = [{"label": b["label"], "payload": b["payload"]} for b in payload["buttons"]]
    if payload.get("files"):
        out["files"] = [{"name": f["name"], "url": f.get("url") or file_url(item.chat_id, f.get("attachment_id"))}
                        for f in payload["files"]]
    return out


def file_url(session_id: str, attachment_id: int | None) -> str | None:
    """Where the page fetches a stored file sent to this chat (an agent's photo or document)."""
    return None if attachment_id is None else f"/api/chat/files/{attachment_id}?session_id={session_id}"


class WebChatChannel(Channel):
    name = CHANNEL
    pushes = False

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def message(session_id: str, text: str = "", button: str | None = None, lang: str | None = None,
                files: list[IncomingFile] | None = None, address: str | None = None,
                voice: VoiceMessage | None = None) -> Incoming:
        return Incoming(channel=CHANNEL, chat_id=session_id, user_id=session_id, text=text, button=button,
                        lang_hint=lang, files=files or [], address=address, voice=voice)

    def hand_over(self, ids: list[int]) -> list[dict[str, Any]]:
        """The given rows, rendered and marked sent: the HTTP response carries them."""
        if not ids:
            return []
        with self.db.session() as session:
            items = list(session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids)).order_by(OutboxItem.id)))
            for item in items:
                item.status, item.sent_at, item.attempts = "sent", utcnow(), item.attempts + 1
            return [render(item) for item in items]

    def since(self, session_id: str, after: int) -> list[dict[str, Any]]:
        """The chat's messages to the customer after id ``after``, waiting ones marked sent; ``after=0``
        is the whole transcript, the customer's own lines included, in order (a reloaded page
        shows it)."""
        with self.db.session() as session:
            query = (select(OutboxItem).where(OutboxItem.channel == CHANNEL, OutboxItem.chat_id == session_id,
                                              OutboxItem.id > after, OutboxItem.status.in_(("pending", "sent")))
                     .order_by(OutboxItem.id))
            items = list(session.scalars(query if after == 0 else query.limit(PAGE)))
            pending = [i.id for i in items if i.status == "pending"]
            if pending:
                session.execute(update(OutboxItem).where(OutboxItem.id.in_(pending))
                                .values(status="sent", sent_at=utcnow()))
            if after:
                return [render(i) for i in items]
            return _with_customer_lines(session, session_id, items)

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        raise DeferredSendError("the web chat page fetches its replies itself")


def _with_customer_lines(session: Session, session_id: str, items: list[OutboxItem]) -> list[dict[str, Any]]:
    """The outbox rows with the customer's lines between them, by time; a pressed button shows
    its label, as the page showed it when pressed."""
    conversation = session.scalars(select(Conversation).where(Conversation.channel == CHANNEL,
                                                              Conversation.chat_id == session_id)).first()
    said = [] if conversation is None else list(session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.id)))
    names = dict(session.execute(select(Attachment.id, Attachment.original_name).where(
        Attachment.id.in_([a for m in said for a in m.payload.get("attachments", [])]))).all())
    timeline = sorted([(m.created_at, 0, m) for m in said] + [(i.created_at, 1, i) for i in items],
                      key=lambda entry: (entry[0], entry[1]))
    out: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    for _, _, row in timeline:
        if isinstance(row, OutboxItem):
            out.append(render(row))
            labels = {b["payload"]: b["label"] for b in out[-1].get("buttons", [])}
            continue
        line = _customer_line(row, labels, names)
        if line:
            out.append({"from": "customer", "text": line})
    return out


def _customer_line(message: Message, labels: dict[str, str], names: dict[int, str | None]) -> str:
    """What the customer sent, as the page shows it: typed text, a button's label, file names."""
    files = ["📎 " + (names.get(a) or "file") for a in message.payload.get("attachments", [])]
    text = message.text if message.text != "/start" else ""
    if message.button and not text:
        text = labels.get(message.button, "")
    return "\n".join([part for part in [text, *files] if part])


def build_web_channels(settings: Settings, services: Services) -> dict[str, Channel]:
    return {CHANNEL: WebChatChannel(services.db)}


#: Built by the web chat routes; a server has nothing to push to the page.
KIND = ChannelKind(CHANNEL, lambda settings: True, build_web_channels, on_demand=True)
