"""The engine: one incoming message in, replies stored in the outbox, in one transaction.

    Incoming -> voice? recognise it (before any lock) -> drop repeats -> lock the conversation
      -> record the message (a voice message: its transcript, its audio kept for staff)
      -> a channel's notice? answer it -> human mode? stop (staff answer) -> route to a handler
      -> transcript + outbox in the same transaction -> wake the sender
"""
from __future__ import annotations

import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.logs import conversation_id_var
from bot.metrics import observe_turn
from handlers.base import Context, Handler, Peek, menu_buttons
from handlers.handoff import customer_wrote
from handlers.i18n import detect_language
from handlers.messages import Incoming, IncomingFile, Reply, StaffIncoming
from handlers.services import Services
from handlers.staff_room import staff_wrote
from speech import Recognizer, UndecodableAudio
from storage import repositories
from storage.attachments import AttachmentRejected
from storage.models import Attachment, Conversation, InboxItem, Message, utcnow
from storage.outbox import enqueue, wake_chat

log = logging.getLogger(__name__)

_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def clean_text(raw: str, limit: int) -> tuple[str, bool]:
    """Strip invisible and control characters and whitespace; cut to ``limit``. Returns (text, was_cut)."""
    text = _INVISIBLE.sub("", raw)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = text.strip()
    if len(text) > limit:
        return text[:limit], True
    return text, False


def first_language(incoming: Incoming, text: str) -> str | None:
    """A new chat's language: the platform's hint, else the one the text is written in (a
    command, or a message the channel could not read, says nothing of the language)."""
    if incoming.lang_hint in ("zh", "en"):
        return incoming.lang_hint
    if not text.startswith("/") and incoming.notice is None:
        return detect_language(text)
    return None


@dataclass
class HandleResult:
    conversation_id: int | None = None
    replies: list[Reply] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    duplicate: bool = False


class Engine:
    """Routes each message to one handler. Handlers are ordered by ``priority``."""

    def __init__(self, services: Services, handlers: list[Handler], speech: Recognizer) -> None:
        self.services = services
        self.speech = speech
        self.handlers = sorted(handlers, key=lambda h: h.priority)
        self.by_name = {h.name: h for h in self.handlers}

    # -- entry points -------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> HandleResult:
        """Handle a message from a channel that answers synchronously (web chat, terminal)."""
        started = time.perf_counter()
        self.recognise([incoming])
        prepared = self.prepare(incoming)
        with observe_turn(incoming.channel, started), self.services.db.session() as session:
            if incoming.delivery_key:
                recorded = repositories.insert_ignore(session, InboxItem, {
                    "channel": incoming.channel, "delivery_key": incoming.delivery_key,
                    "chat_id": incoming.chat_id, "payload": {}, "status": "done", "attempts": 0,
                    "next_attempt_at": utcnow(), "created_at": utcnow(), "processed_at": utcnow(),
                }, ["channel", "delivery_key"], returning=InboxItem.id)
                if recorded is None:
                    log.info("duplicate delivery dropped channel=%s key=%s", incoming.channel, incoming.delivery_key)
                    return HandleResult(duplicate=True)
            result = self._process(session, incoming, prepared)
        self.services.wake_outbox()
        return result

    def handle_recorded(self, inbox_id: int, incomings: list[Incoming | StaffIncoming]) -> HandleResult | None:
        """Handle the messages parsed from a recorded delivery, exactly once (a staff member's
        message in the staff room goes to handlers/staff_room.py, in the same transaction).

        The inbox row is locked and marked done in the same transaction as the handling,
        so a crash anywhere leaves it pending for another try and never half-done.
        """
        self.recognise([incoming for incoming in incomings if isinstance(incoming, Incoming)])
        prepared = [(time.perf_counter(), self.prepare(incoming) if isinstance(incoming, Incoming) else {})
                    for incoming in incomings]
        with self.services.db.session() as session:
            item = repositories.get_locked(session, InboxItem, inbox_id)
            if item is None or item.status == "done":
                return None
            result = HandleResult()
            for incoming, (started, ready) in zip(incomings, prepared):
                if isinstance(incoming, StaffIncoming):
                    staff_wrote(session, self.services, incoming)
                    continue
                with observe_turn(incoming.channel, started):
                    one = self._process(session, incoming, ready)
                result.conversation_id = one.conversation_id
                result.replies += one.replies
                result.outbox_ids += one.outbox_ids
            item.status, item.processed_at, item.conversation_id = "done", utcnow(), result.conversation_id
        self.services.wake_outbox()
        return result

    # -- the work -----------------------------------------------------------------------------

    def prepare(self, incoming: Incoming) -> dict[str, Any]:
        """Let the handlers do their slow read-only work for a text turn (the FAQ asks the
        knowledge) before the conversation's lock and SQLite's write lock are taken, so turns of
        other chats do not wait for it. What was prepared is checked again inside the turn."""
        said = _said(incoming)
        if incoming.button or incoming.notice is not None or not said:
            return {}
        text, _was_cut = clean_text(said, self.services.settings.max_message_chars)
        with self.services.db.reading() as session:
            row = session.execute(
                select(Conversation.state, Conversation.mode, Conversation.language).where(
                    Conversation.channel == incoming.channel, Conversation.chat_id == incoming.chat_id)).first()
        state, mode, language = row if row is not None else (None, "bot", None)
        lang = language or first_language(incoming, text) or self.services.settings.default_language
        peek = Peek(text, state, mode, lang)
        return {h.name: ready for h in self.handlers if (ready := h.prepare(peek, self.services)) is not None}

    def recognise(self, incomings: list[Incoming]) -> None:
        """Fill in what was said in each voice message not yet recognised (WeCom may send its
        own). Runs before the turn's transaction: a second of speech recognition holds no lock."""
        for incoming in incomings:
            voice = incoming.voice
            if voice is None or voice.transcript is not None:
                continue
            heard = None
            if voice.audio.data:
                try:
                    heard = self.speech.transcribe(voice.audio.data, self._known_language(incoming))
                except UndecodableAudio as exc:
                    log.info("voice message of %s:%s not readable: %s", incoming.channel, incoming.chat_id, exc)
            voice.transcript = heard.text if heard is not None else ""

    def _known_language(self, incoming: Incoming) -> str | None:
        """The conversation's language if it has one, else the platform's hint (a short read, no lock)."""
        with self.services.db.reading() as session:
            language = session.scalar(select(Conversation.language).where(
                Conversation.channel == incoming.channel, Conversation.chat_id == incoming.chat_id))
        return language or incoming.lang_hint

    def _process(self, session: Session, incoming: Incoming, prepared: dict[str, Any]) -> HandleResult:
        conversation = self.lock_conversation(session, incoming)
        conversation_id_var.set(conversation.id)
        settings = self.services.settings
        text, was_cut = clean_text(_said(incoming), settings.max_message_chars)
        if conversation.language is None:
            conversation.language = first_language(incoming, text)
        ctx = Context(
            session=session,
            incoming=incoming,
            customer=conversation.customer,
            conversation=conversation,
            services=self.services,
            text=text,
            prepared=prepared,
        )
        if was_cut:
            ctx.notices.append(Reply(ctx.t("fallback.truncated", limit=settings.max_message_chars)))
        self._store_files(ctx)
        kept = self._keep_voice(ctx)
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="in",
                sender="customer",
                text=text,
                button=(incoming.button or "")[:256] or None,
                payload={"attachments": [a.id for a in ctx.attachments] + kept},
                platform_message_id=incoming.message_id,
            )
        )
        session.flush()
        conversation.last_message_at = utcnow()
        wake_chat(session, conversation.channel, conversation.chat_id)

        answer = self._answer(ctx)  # may add a notice first ("you said: ...")
        replies = ctx.notices + answer
        ids = enqueue(session, conversation, replies)
        return HandleResult(conversation.id, replies, ids)

    def _answer(self, ctx: Context) -> list[Reply]:
        """The channel's own notice, else in human mode the relay to staff, else a handler's answer."""
        incoming, conversation = ctx.incoming, ctx.conversation
        if incoming.notice is not None:
            return [Reply(ctx.t(incoming.notice))]
        if incoming.voice is not None:
            if not ctx.text:
                return [Reply(ctx.t("voice.not_recognised"))]
            ctx.notices.append(Reply(ctx.t("voice.heard", text=ctx.text)))
        relayed = None
        if conversation.mode == "human":
            relayed = customer_wrote(ctx.session, self.services, conversation, ctx.text, incoming.button,
                                     ctx.attachments)
        return relayed if relayed is not None else self._route_safely(ctx)

    def lock_conversation(self, session: Session, incoming: Incoming) -> Conversation:
        """Find or create the customer and conversation, and hold the conversation's row lock
        until commit so one chat's messages are handled one after another, on any worker."""
        conversation = repositories.lock_conversation(session, incoming.channel, incoming.chat_id,
                                                      incoming.user_id, incoming.user_name)
        if incoming.contact_phone:
            conversation.customer.phone = incoming.contact_phone
        return conversation

    def _store_files(self, ctx: Context) -> None:
        for file in ctx.incoming.files:
            stored = self._store(ctx, file)
            if stored is not None:
                ctx.attachments.append(stored)

    def _keep_voice(self, ctx: Context) -> list[int]:
        """The voice message's audio, stored for staff (the console plays it); not a handler's
        attachment: what was said reaches the handlers as text."""
        voice = ctx.incoming.voice
        if voice is None or not (voice.audio.data or voice.audio.declared_size):
            return []  # no audio: WeCom's recognition came alone
        stored = self._store(ctx, voice.audio)
        return [stored.id] if stored is not None else []

    def _store(self, ctx: Context, file: IncomingFile) -> Attachment | None:
        """The file stored, or None with a notice for the customer saying why it was refused."""
        store = self.services.attachments
        try:
            if file.declared_size is not None and file.declared_size > store.max_bytes:
                raise AttachmentRejected("too_large", file.name or "file")
            return store.save(ctx.session, file.data, file.name, ctx.conversation)
        except AttachmentRejected as exc:
            log.info("conversation=%s attachment refused: %s", ctx.conversation.id, exc.reason)
            if exc.reason == "too_large":
                limit = f"{store.max_bytes // (1024 * 1024)} MB"
                ctx.notices.append(Reply(ctx.t("attachment.too_large", name=exc.name, limit=limit)))
            else:
                ctx.notices.append(Reply(ctx.t("attachment.bad_type", name=exc.name)))
            return None

    def _route_safely(self, ctx: Context) -> list[Reply]:
        savepoint = ctx.session.begin_nested()
        try:
            replies = self.route(ctx)
            savepoint.commit()
            return replies
        except Exception:
            savepoint.rollback()
            log.exception("conversation=%s handler failed; state left as before", ctx.conversation.id)
            ctx.session.refresh(ctx.conversation)
            return [Reply(ctx.t("error.internal"), menu_buttons(ctx.lang))]

    def route(self, ctx: Context) -> list[Reply]:
        """Button -> interrupting intent -> the flow that owns the state -> intents -> fallback."""
        payload = ctx.incoming.button
        if payload:
            handler = self.by_name.get(payload.split(":", 1)[0])
            replies = handler.on_button(ctx, payload) if handler else None
            if replies is not None:
                return replies
            return self.by_name["menu"].on_button(ctx, "menu:unavailable:" + payload) or []
        for handler in self.handlers:
            if handler.interrupts and (replies := handler.on_intent(ctx)) is not None:
                return replies
        if ctx.state:
            owner = self.by_name.get(ctx.state.split(":", 1)[0])
            if owner is not None and (replies := owner.on_state(ctx)) is not None:
                return replies
            if owner is None:
                log.warning("conversation=%s state %r has no handler; cleared", ctx.conversation.id, ctx.state)
                ctx.clear_state()
        for handler in self.handlers:
            if not handler.interrupts and (replies := handler.on_intent(ctx)) is not None:
                return replies
        return [Reply(ctx.t("fallback.unknown"), menu_buttons(ctx.lang))]


def _said(incoming: Incoming) -> str:
    """What the customer said: a voice message's transcript, else the text."""
    spoken = incoming.voice.transcript if incoming.voice is not None else None
    return spoken or incoming.text or ""
