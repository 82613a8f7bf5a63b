"""Telegram: updates in by webhook or long polling, replies out through the Bot API.

Only python-telegram-bot's ``Bot`` is used, not its ``Application``: every update is
recorded in the inbox first (one durable path for both modes, repeats dropped by
update_id) and conversation state lives in the database, so ConversationHandler and
PTB persistence, which load once per process, have no place with several workers.
The adapter parses and renders; what to answer is the engine's business.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import warnings
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import BaseRequest, HTTPXRequest

from storage import inbox
from bot.channels.base import Channel, PermanentSendError, SendError, TemporarySendError
from bot.config import Settings
from handlers.i18n import t
from handlers.messages import Button, FileRef, Incoming, IncomingFile, Reply
from handlers.services import Services
from bot.workers import cancel_and_wait
from storage.db import Database
from storage.models import Attachment, KeyValue, utcnow

log = logging.getLogger(__name__)

CHANNEL = "telegram"
#: Longest message text, counted in UTF-16 code units as Telegram counts it.
MAX_TEXT = 4096
#: Telegram refuses callback_data longer than this many bytes.
MAX_CALLBACK_BYTES = 64
#: Marks callback_data that is a key to a payload stored server side (payloads start with a handler name).
STORED_MARK = "#"
#: The reply-button payload that asks the customer to share their phone number.
SHARE_PHONE = "share:phone"
#: Only these updates are asked for; edited messages are not (an edit is not a new question).
ALLOWED_UPDATES = ["message", "callback_query"]
#: Seconds a getUpdates call waits on Telegram's side for something to arrive.
POLL_TIMEOUT = 30
#: Buttons whose labels are at most this long (UTF-16 units) go two to a keyboard row.
SHORT_LABEL = 12
#: The text of a reply that has only buttons (no words, so no language to pick).
BUTTONS_ONLY = "👇"
OFFSET_KEY = "telegram:offset"
COMMANDS = ("start", "menu", "help", "lang")


def _kv_key(kind: str, value: str) -> str:
    return f"telegram:{kind}:{value}"


def build_bot(settings: Settings, request: BaseRequest | None = None,
              get_updates_request: BaseRequest | None = None) -> Bot:
    """A ``Bot`` for the configured API server; tests hand in a request object of their own."""
    if settings.telegram_token is None:
        raise ValueError("BOT_TELEGRAM_TOKEN is not set")
    return Bot(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.effective_telegram_base_file_url,
        request=request,
        get_updates_request=get_updates_request,
    )


async def register_commands(bot: Bot, default_language: str) -> None:
    """Fill the client's "/" menu with the commands the menu handler understands, in both languages."""
    for language_code in ("zh", "en"):
        commands = [BotCommand(name, t(f"telegram.command.{name}", language_code)) for name in COMMANDS]
        await bot.set_my_commands(commands, language_code=language_code)
    await bot.set_my_commands([BotCommand(name, t(f"telegram.command.{name}", default_language)) for name in COMMANDS])


async def set_webhook(settings: Settings, url: str) -> None:
    """Register ``url`` with Telegram, with the secret it must send back (``telegram set-webhook``)."""
    if settings.telegram_webhook_secret is None:
        raise ValueError("BOT_TELEGRAM_WEBHOOK_SECRET is not set; the webhook would accept anyone's updates")
    request = HTTPXRequest()
    try:
        bot = build_bot(settings, request, request)
        await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret.get_secret_value(),
                              allowed_updates=ALLOWED_UPDATES)
        await register_commands(bot, settings.default_language)
    finally:
        await request.shutdown()


def chat_of(update: dict[str, Any]) -> str | None:
    """The chat an update belongs to, read before parsing so the inbox keeps each chat in order."""
    try:
        for kind in ("message", "edited_message"):
            if kind in update:
                return str(update[kind]["chat"]["id"])
        query = update.get("callback_query")
        if query:
            message = query.get("message")
            return str(message["chat"]["id"] if message else query["from"]["id"])
    except (KeyError, TypeError):
        pass
    return None


def language_of(code: str | None) -> str | None:
    """The client's interface language as a hint: zh-hans, zh-hant... -> zh; en-GB... -> en."""
    if not code:
        return None
    base = code.split("-")[0].lower()
    return base if base in ("zh", "en") else None


# -- text ---------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit``: at paragraphs, else lines, else words, else anywhere."""
    return [part for part in _split(text, limit, ("\n\n", "\n", " ")) if part.strip()]


def _split(text: str, limit: int, separators: tuple[str, ...]) -> list[str]:
    if utf16_len(text) <= limit:
        return [text]
    if not separators:
        return _hard_cut(text, limit)
    sep, finer = separators[0], separators[1:]
    parts: list[str] = []
    current = ""
    for piece in text.split(sep):
        candidate = current + sep + piece if current else piece
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        if utf16_len(piece) <= limit:
            current = piece
        else:
            *done, current = _split(piece, limit, finer)
            parts += done
    if current:
        parts.append(current)
    return parts


def _hard_cut(text: str, limit: int) -> list[str]:
    parts, current, size = [], [], 0
    for char in text:
        width = utf16_len(char)
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return parts


def render_text(reply: Reply) -> list[str]:
    """The reply's text as HTML messages: every piece escaped, so no text can inject formatting.

    Files known only by URL become links under the text (Telegram could not fetch a private URL itself).
    """
    chunks = split_text(reply.text)
    links = [f'📎 <a href="{html.escape(f.url, quote=True)}">{html.escape(f.name, quote=False)}</a>'
             for f in reply.files if f.url and f.attachment_id is None]
    messages = [html.escape(chunk, quote=False) for chunk in chunks]
    if links:
        visible = sum(utf16_len(f.name) + 3 for f in reply.files if f.url and f.attachment_id is None)
        if chunks and utf16_len(chunks[-1]) + 2 + visible <= MAX_TEXT:
            messages[-1] += "\n\n" + "\n".join(links)
        else:
            messages.append("\n".join(links))
    return messages


def button_rows(buttons: list[Button]) -> list[list[Button]]:
    """Two buttons side by side when both labels are short enough to read on a phone, else one a row."""
    rows: list[list[Button]] = []
    for button in buttons:
        short = utf16_len(button.label) <= SHORT_LABEL
        if rows and len(rows[-1]) == 1 and short and utf16_len(rows[-1][0].label) <= SHORT_LABEL:
            rows[-1].append(button)
        else:
            rows.append([button])
    return rows


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def send_error(exc: TelegramError) -> SendError:
    """Telegram's answer in the outbox's terms: wait and retry, or give up on this reply."""
    if isinstance(exc, RetryAfter):
        return TemporarySendError("rate limited by Telegram", retry_after=_seconds(exc))
    if isinstance(exc, (Forbidden, BadRequest, ChatMigrated)):
        return PermanentSendError(str(exc))
    if isinstance(exc, InvalidToken):
        return TemporarySendError("Telegram rejected the token (check BOT_TELEGRAM_TOKEN)")
    return TemporarySendError(str(exc))


# -- the channel --------------------------------------------------------------------------------


class TelegramChannel(Channel):
    name = CHANNEL

    def __init__(self, settings: Settings, services: Services, request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None) -> None:
        self.settings = settings
        self.services = services
        self.mode = settings.telegram_mode
        self._requests = [request or HTTPXRequest(connection_pool_size=8),
                          get_updates_request or HTTPXRequest(read_timeout=POLL_TIMEOUT + 10)]
        self.bot = build_bot(settings, *self._requests)
        self.router = self._webhook_router() if self.mode == "webhook" else None
        self._poller: asyncio.Task[None] | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    async def start(self) -> None:
        if self.mode == "polling":
            self._poller = asyncio.create_task(self._poll_forever(), name="telegram-polling")

    async def stop(self) -> None:
        await cancel_and_wait(self._poller)
        self._poller = None
        for request in self._requests:
            await request.shutdown()

    # -- receiving ------------------------------------------------------------------------------

    def _webhook_router(self) -> APIRouter:
        assert self.settings.telegram_webhook_secret is not None  # the settings insist in webhook mode
        secret = self.settings.telegram_webhook_secret.get_secret_value().encode()
        router = APIRouter()

        @router.post("/telegram/webhook", include_in_schema=False)
        async def webhook(request: Request) -> dict[str, Any]:
            """Record the update, then answer 200: a crash after the answer loses nothing,
            one before it lets Telegram deliver again (and the repeat is dropped)."""
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
            if not hmac.compare_digest(given, secret):
                log.warning("telegram webhook: request with a wrong secret token refused")
                raise HTTPException(403, "wrong secret token")
            try:
                update = await request.json()
            except ValueError:
                raise HTTPException(400, "the body must be a Telegram update in JSON") from None
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                raise HTTPException(400, "the body must be a Telegram update in JSON")
            await asyncio.to_thread(inbox.accept, self.db, CHANNEL, str(update["update_id"]), update, chat_of(update))
            request.app.state.runtime.inbox.wake()
            return {}

        return router

    async def poll_once(self, timeout: int = 0) -> int:
        """One getUpdates call: record each update like the webhook does, then move the stored offset.

        A crash between the two fetches the same updates again; the inbox drops the repeats.
        """
        offset = await asyncio.to_thread(self._load_offset)
        updates = await self.bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
        for update in updates:
            raw = update.to_dict()
            await asyncio.to_thread(inbox.accept, self.db, CHANNEL, str(update.update_id), raw, chat_of(raw))
        if updates:
            await asyncio.to_thread(self._save_offset, updates[-1].update_id + 1)
            self.services.wake_inbox()
        return len(updates)

    async def _poll_forever(self) -> None:
        prepared = False
        failures = 0
        while True:
            try:
                if not prepared:
                    me = await self.bot.get_me()
                    await self.bot.delete_webhook(drop_pending_updates=False)
                    await register_commands(self.bot, self.settings.default_language)
                    prepared = True
                    log.info("telegram: polling as @%s", me.username)
                await self.poll_once(POLL_TIMEOUT)
                failures = 0
            except asyncio.CancelledError:
                raise
            except (Conflict, InvalidToken) as exc:
                failures += 1
                log.error("telegram polling refused (%s): is another process polling this bot, "
                          "or is BOT_TELEGRAM_TOKEN wrong?", exc)
            except Exception as exc:  # noqa: BLE001 - a network or database hiccup must not end polling
                failures += 1
                log.warning("telegram polling failed (%s); retrying", exc)
            if failures:
                await asyncio.sleep(min(2 ** failures, 60))

    def _load_offset(self) -> int | None:
        with self.db.session() as session:
            row = session.get(KeyValue, OFFSET_KEY)
            return int(row.value["offset"]) if row else None

    def _save_offset(self, offset: int) -> None:
        self._kv_put(OFFSET_KEY, {"offset": offset})

    # -- parsing --------------------------------------------------------------------------------

    async def parse(self, payload: dict[str, Any]) -> list[Incoming]:
        """A recorded update as messages for the engine; kinds not asked for (edits, channel posts,
        group chats) give nothing. Files are downloaded here, so a retry downloads again."""
        update = Update.de_json(payload, self.bot)
        if update.callback_query is not None:
            return await self._parse_press(update.callback_query)
        message = update.message
        if message is None or message.chat.type != "private" or message.from_user is None:
            log.debug("telegram update %s ignored (not a private message)", update.update_id)
            return []
        user = message.from_user
        chat_id = str(message.chat.id)
        incoming = Incoming(
            channel=CHANNEL,
            chat_id=chat_id,
            user_id=str(user.id),
            text=message.text or message.caption or "",
            message_id=str(message.message_id),
            user_name=user.full_name,
            lang_hint=language_of(user.language_code),
        )
        if message.contact is not None and message.contact.user_id == user.id:
            incoming.contact_phone = message.contact.phone_number
        if message.text:
            pressed = await asyncio.to_thread(self._keyboard_payload, chat_id, message.text)
            if pressed is not None:
                incoming.button, incoming.text = pressed, ""
        incoming.files = await self._download_files(message)
        return [incoming]

    async def _parse_press(self, query: CallbackQuery) -> list[Incoming]:
        try:
            await query.answer()  # stops the spinner on the button
        except TelegramError as exc:  # too old after a retry, or Telegram unreachable: the press still counts
            log.info("telegram callback query not answered: %s", exc)
        message = query.message
        if query.data is None or (message is not None and message.chat.type != "private"):
            return []
        payload = await asyncio.to_thread(self._stored_payload, query.data)
        return [Incoming(
            channel=CHANNEL,
            chat_id=str(message.chat.id if message is not None else query.from_user.id),
            user_id=str(query.from_user.id),
            button=payload,
            message_id=str(message.message_id) if message is not None else None,
            user_name=query.from_user.full_name,
            lang_hint=language_of(query.from_user.language_code),
        )]

    async def _download_files(self, message: Message) -> list[IncomingFile]:
        found: list[tuple[Any, str, str | None]] = []
        if message.photo:
            found.append((message.photo[-1], f"photo_{message.message_id}.jpg", "image/jpeg"))
        for media in (message.document, message.audio, message.video, message.voice):
            if media is not None:
                name = getattr(media, "file_name", None) or f"{type(media).__name__.lower()}_{message.message_id}"
                found.append((media, name, getattr(media, "mime_type", None)))
        files = []
        limit = self.services.attachments.max_bytes
        for media, name, mime in found:
            if media.file_size is not None and media.file_size > limit:
                files.append(IncomingFile(b"", name, mime, declared_size=media.file_size))
                continue
            try:
                data = await (await self.bot.get_file(media.file_id)).download_as_bytearray()
            except BadRequest as exc:
                if "too big" in str(exc).lower():
                    files.append(IncomingFile(b"", name, mime, declared_size=max(media.file_size or 0, limit + 1)))
                else:
                    log.warning("telegram file of message %s not downloadable: %s", message.message_id, exc)
                continue
            files.append(IncomingFile(bytes(data), name, mime))
        return files

    # -- sending --------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Text pieces first, then stored files as documents; the buttons ride on the last message.

        A reply of several messages remembers how far it got (in the database), so a retry after
        a 429 or an outage goes on from there instead of repeating what the customer already has.
        """
        texts = render_text(reply)
        documents = [f for f in reply.files if f.attachment_id is not None]
        if reply.buttons and not texts and not documents:
            texts = [BUTTONS_ONLY]  # Telegram shows no keyboard without a message to hang it on
        total = len(texts) + len(documents)
        if total == 0:
            return None
        markup = await asyncio.to_thread(self._markup, chat_id, reply.buttons)
        progress_key = None
        done = 0
        if total > 1:
            fingerprint = json.dumps([chat_id, reply.to_dict()], sort_keys=True, ensure_ascii=False)
            progress_key = _kv_key("progress", hashlib.sha256(fingerprint.encode()).hexdigest()[:40])
            done = int((await asyncio.to_thread(self._kv_get, progress_key) or {"done": 0})["done"])
        message_id: str | None = None
        for index in range(done, total):
            last = index == total - 1
            try:
                if index < len(texts):
                    sent = await self.bot.send_message(chat_id, texts[index], parse_mode=ParseMode.HTML,
                                                       reply_markup=markup if last else None)
                else:
                    sent = await self._send_document(chat_id, documents[index - len(texts)],
                                                     markup if last else None)
            except TelegramError as exc:
                raise send_error(exc) from exc
            message_id = str(sent.message_id)
            if progress_key and not last:
                await asyncio.to_thread(self._kv_put, progress_key, {"done": index + 1})
        if progress_key:
            await asyncio.to_thread(self._kv_delete, progress_key)
        return message_id

    async def _send_document(self, chat_id: str, ref: FileRef, markup: Any) -> Message:
        data, name = await asyncio.to_thread(self._attachment_bytes, ref)
        return await self.bot.send_document(chat_id, InputFile(data, filename=name), reply_markup=markup)

    def _attachment_bytes(self, ref: FileRef) -> tuple[bytes, str]:
        with self.db.session() as session:
            attachment = session.get(Attachment, ref.attachment_id)
            if attachment is None:
                raise PermanentSendError(f"attachment {ref.attachment_id} does not exist")
            return self.services.attachments.read(attachment), ref.name or attachment.original_name or "file"

    def _markup(self, chat_id: str, buttons: list[Button]) -> Any:
        """Inline keyboard (short labels two a row); a reply asking for the phone number gets a reply
        keyboard instead (only those can share a contact), its other labels remembered for the chat."""
        keyboard_key = _kv_key("keyboard", chat_id)
        if any(b.payload == SHARE_PHONE for b in buttons):
            self._kv_put(keyboard_key, {b.label: b.payload for b in buttons if b.payload != SHARE_PHONE})
            return ReplyKeyboardMarkup(
                [[KeyboardButton(b.label, request_contact=(b.payload == SHARE_PHONE) or None)] for b in buttons],
                one_time_keyboard=True, resize_keyboard=True,
            )
        had_keyboard = self._kv_delete(keyboard_key)
        if buttons:
            return InlineKeyboardMarkup([
                [InlineKeyboardButton(b.label, callback_data=self._callback_data(b.payload)) for b in row]
                for row in button_rows(buttons)
            ])
        return ReplyKeyboardRemove() if had_keyboard else None

    def _callback_data(self, payload: str) -> str:
        """The payload itself when it fits in 64 bytes; else a key to it, stored for every worker."""
        if len(payload.encode()) <= MAX_CALLBACK_BYTES and not payload.startswith(STORED_MARK):
            return payload
        digest = hashlib.sha256(payload.encode()).hexdigest()[:40]
        self._kv_put(_kv_key("button", digest), {"payload": payload})
        return STORED_MARK + digest

    def _stored_payload(self, data: str) -> str:
        """Back from callback_data to the payload; an unknown key is handed on as is (a stale button)."""
        if not data.startswith(STORED_MARK):
            return data
        value = self._kv_get(_kv_key("button", data[len(STORED_MARK):]))
        return value["payload"] if value else data

    def _keyboard_payload(self, chat_id: str, text: str) -> str | None:
        value = self._kv_get(_kv_key("keyboard", chat_id))
        return value.get(text) if value else None

    # -- small shared state (the kv table) --------------------------------------------------------

    def _kv_get(self, key: str) -> dict[str, Any] | None:
        with self.db.session() as session:
            row = session.get(KeyValue, key)
            return dict(row.value) if row else None

    def _kv_put(self, key: str, value: dict[str, Any]) -> None:
        dialect = postgresql if self.db.is_postgres else sqlite
        with self.db.session() as session:
            statement = dialect.insert(KeyValue).values(key=key, value=value, updated_at=utcnow())
            session.execute(statement.on_conflict_do_update(
                index_elements=["key"], set_={"value": statement.excluded.value, "updated_at": utcnow()}))

    def _kv_delete(self, key: str) -> bool:
        with self.db.session() as session:
            return bool(session.execute(delete(KeyValue).where(KeyValue.key == key)).rowcount)
