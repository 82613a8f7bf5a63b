"""The WeCom channels: the self-built app ("wecom") and customer service, 微信客服 ("wecom_kf").

They only translate. Callback XML and kf messages become ``Incoming``; ``Reply`` objects
become text messages, with buttons as the toolkit's numbered list (a bare "2" maps back to the
second button on any worker). kf sends buttons as a menu message the customer taps instead.
A voice message becomes an ``Incoming`` with its AMR audio (and the app's own ``Recognition``
when the admin turned speech recognition on), which the engine recognises and answers like the
same text. What the bot cannot read (video, location) becomes an ``Incoming`` with a ``notice``
the engine answers, so the answer is in the transcript and sent once.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy import select

from bot.channels import kv, toolkit
from bot.channels.base import Channel, DeferredSendError, PermanentSendError, TemporarySendError
from bot.channels.toolkit import NumberedButtons, SentParts
from bot.channels.wecom.api import NoServicerOnDuty, WeComApi, WeComError
from bot.channels.wecom.transfer import TRANSFER_JOB, KfSessionTransfer
from bot.config import Settings
from handlers.i18n import t
from handlers.messages import Incoming, IncomingFile, Reply, VoiceMessage
from storage.db import Database
from storage.inbox import accept
from storage.models import Conversation

if TYPE_CHECKING:
    from bot.jobs import JobFunction

log = logging.getLogger(__name__)

#: message/send and kf/send_msg take at most 2,048 bytes of text.
TEXT_LIMIT_BYTES = 2048
#: kf may send at most this many messages within 48 hours of the customer's last message.
KF_WINDOW_MESSAGES = 5
KF_WINDOW_SECONDS = 48 * 3600
#: A kf welcome_code (from the enter_session event) is valid for 20 seconds.
KF_WELCOME_SECONDS = 20
#: kf menu messages: the text above the items, and each item's id and label, in bytes.
KF_MENU_HEAD_BYTES = 1024
KF_MENU_ITEM_BYTES = 128


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Cut text into pieces of at most ``limit`` UTF-8 bytes (the toolkit's splitter); never no piece."""
    return toolkit.split_text(text, limit, toolkit.utf8_bytes) or [""]


def render(reply: Reply, lang: str) -> str:
    """A reply as plain text: files as named links, buttons as a numbered list."""
    lines = [reply.text] if reply.text else []
    lines += [f"📎 {f.name}" + (f" {f.url}" if f.url else "") for f in reply.files]
    if reply.buttons:
        if lines:
            lines.append("")
        lines += toolkit.numbered_lines(reply.buttons)
        lines.append(t("wecom.choose_by_number", lang))
    return "\n".join(lines)


#: The i18n key answering a message type the bot cannot handle.
UNSUPPORTED_NOTICE = "wecom.type_unsupported"


class _WeComChannel(Channel):
    """What both WeCom channels share: rendering, numbered buttons, media, notices."""

    #: The callback endpoint; set on one of the channels by ``build_wecom_channels``.
    router: APIRouter | None = None

    def __init__(self, settings: Settings, db: Database, api: WeComApi) -> None:
        self.settings = settings
        self.db = db
        self.api = api
        self.numbers = NumberedButtons(db, self.name)

    # -- synchronous helpers, run in a thread ---------------------------------------------------

    def language(self, chat_id: str) -> str:
        with self.db.session() as session:
            lang = session.scalar(select(Conversation.language).where(
                Conversation.channel == self.name, Conversation.chat_id == chat_id))
        return lang or self.settings.default_language

    def text_incoming(self, chat_id: str, user_id: str, text: str, message_id: str | None) -> Incoming:
        """A text message; a bare number picking one of the last numbered buttons becomes that button."""
        payload = self.numbers.payload_of(chat_id, text)
        if payload is not None:
            return Incoming(self.name, chat_id, user_id, button=payload, message_id=message_id)
        return Incoming(self.name, chat_id, user_id, text=text, message_id=message_id)

    def file_incoming(self, chat_id: str, user_id: str, media_id: str, message_id: str | None,
                      default_name: str) -> list[Incoming]:
        """The downloaded file for the engine. A download WeCom refuses for good (an expired
        media_id, say) becomes a request to send it again; a passing failure is raised so the
        inbox tries again."""
        file = self._download(media_id, default_name)
        if file is None:
            return [Incoming(self.name, chat_id, user_id, message_id=message_id, notice="wecom.media_failed")]
        return [Incoming(self.name, chat_id, user_id, message_id=message_id, files=[file])]

    def voice_incoming(self, chat_id: str, user_id: str, media_id: str, message_id: str | None,
                       recognition: str | None = None) -> list[Incoming]:
        """A voice message: its audio (kept for staff) and WeCom's own recognition when it sent one;
        without it the engine recognises the audio."""
        heard = (recognition or "").strip() or None
        name = f"voice-{message_id}.amr"
        audio = self._download(media_id, name)
        if audio is None and heard is None:
            return [Incoming(self.name, chat_id, user_id, message_id=message_id, notice="wecom.media_failed")]
        voice = VoiceMessage(audio or IncomingFile(b"", name), heard)
        return [Incoming(self.name, chat_id, user_id, message_id=message_id, voice=voice)]

    def _download(self, media_id: str, default_name: str) -> IncomingFile | None:
        """A temporary media file, or None when WeCom refuses it for good (an expired media_id,
        say); a passing failure is raised so the inbox tries again."""
        try:
            data, name, mime = self.api.download(media_id, self.settings.max_upload_bytes)
        except WeComError as exc:
            if exc.retryable:
                raise
            log.warning("WeCom media download refused: %s", exc)
            return None
        return IncomingFile(data, name or default_name, mime)

    @abstractmethod
    def deliver(self, chat_id: str, reply: Reply, sent: SentParts) -> str | None:
        """Send one reply now (in a thread), from part ``sent.done`` on, marking each part sent;
        raises ``WeComError`` or a ``SendError``."""

    # -- the Channel interface ------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply, sent: SentParts | None = None) -> str | None:
        if not (reply.text or reply.buttons or reply.files):
            return None  # WeCom refuses empty text
        try:
            return await asyncio.to_thread(self.deliver, chat_id, reply, sent or SentParts())
        except WeComError as exc:
            if exc.retryable:
                raise TemporarySendError(str(exc)) from None
            raise PermanentSendError(str(exc)) from None


class WeComAppChannel(_WeComChannel):
    """The self-built app: callbacks in, ``message/send`` out. The chat id is the member's UserID."""

    name = "wecom"

    def __init__(self, settings: Settings, db: Database, api: WeComApi, agent_id: int) -> None:
        super().__init__(settings, db, api)
        self.agent_id = agent_id

    def deliver(self, chat_id: str, reply: Reply, sent: SentParts) -> str | None:
        message_id = None
        parts = split_text(render(reply, self.language(chat_id)))
        for number in sent.remaining(len(parts)):
            result = self.api.call("post", "message/send", {
                "touser": chat_id, "agentid": self.agent_id, "msgtype": "text", "text": {"content": parts[number]}})
            if result.get("invaliduser"):
                raise PermanentSendError("WeCom: the user is not in the app's visible range (invaliduser)")
            message_id = result.get("msgid") or message_id
            if number + 1 < len(parts):
                sent.mark(number + 1)
        self.numbers.remember(chat_id, reply.buttons)
        return message_id

    @staticmethod
    def delivery(msg: dict[str, str]) -> tuple[str, str, dict[str, str]] | None:
        """(dedupe key, chat id, payload) for a decrypted callback worth handling, None to ignore it."""
        user = msg.get("FromUserName", "")
        if not user:
            return None
        if msg.get("MsgType") == "event":
            if msg.get("Event") not in ("enter_agent", "click"):
                return None
            # The key appears in logs: the member's id only as a hash.
            return f"event:{hashlib.sha256(user.encode()).hexdigest()[:20]}:{msg.get('CreateTime', '')}", user, msg
        if not msg.get("MsgId"):
            return None
        return msg["MsgId"], user, msg

    def parse_sync(self, msg: dict[str, str]) -> list[Incoming]:
        user, kind, msg_id = msg["FromUserName"], msg.get("MsgType"), msg.get("MsgId")
        if kind == "text":
            return [self.text_incoming(user, user, msg.get("Content", ""), msg_id)]
        if kind == "image":
            return self.file_incoming(user, user, msg["MediaId"], msg_id, f"image-{msg_id}.jpg")
        if kind == "voice":
            return self.voice_incoming(user, user, msg["MediaId"], msg_id, msg.get("Recognition"))
        if kind == "event" and msg.get("Event") == "enter_agent":
            return [Incoming(self.name, user, user, text="/start")]
        if kind == "event" and msg.get("Event") == "click" and msg.get("EventKey"):
            return [Incoming(self.name, user, user, button=msg["EventKey"])]
        return [Incoming(self.name, user, user, message_id=msg_id, notice=UNSUPPORTED_NOTICE)]

    async def parse(self, payload: dict[str, Any]) -> list[Incoming]:
        return await asyncio.to_thread(self.parse_sync, payload)


class WeComKfChannel(_WeComChannel):
    """微信客服: the callback only says "there is news"; messages come from ``kf/sync_msg``.

    The chat id is ``open_kfid:external_userid`` (the kf account and the WeChat customer).
    """

    name = "wecom_kf"

    def __init__(self, settings: Settings, db: Database, api: WeComApi, open_kfid: str | None = None) -> None:
        super().__init__(settings, db, api)
        self.open_kfid = open_kfid
        #: The handoff's port for this channel: a waiting handoff moves the session to WeCom's queue.
        self.session_transfer = KfSessionTransfer(self)

    def job_functions(self) -> dict[str, "JobFunction"]:
        return {TRANSFER_JOB: self.session_transfer.run_job}

    # -- receiving ------------------------------------------------------------------------------

    def sync(self, open_kfid: str, token: str) -> int:
        """Fetch every message since the stored cursor and record each through the inbox.

        The cursor is saved only after its page's messages are recorded, so a crash loses
        nothing; a page fetched twice is dropped by the inbox's unique msgid.
        """
        key = f"wecom_kf:cursor:{open_kfid}"
        cursor = (kv.get(self.db, key) or {}).get("cursor", "")
        recorded = 0
        while True:
            try:
                result = self.api.call("post", "kf/sync_msg",
                                       {"cursor": cursor, "token": token, "limit": 1000, "open_kfid": open_kfid})
            except WeComError as exc:
                if exc.errcode != 95007 or not token:
                    raise
                # The event's token lives ten minutes (this is a late retry): sync without it,
                # which WeCom allows at a lower rate, rather than block this account's later syncs.
                token = ""
                continue
            for msg in result.get("msg_list", []):
                chat = self._chat_of(msg)
                if chat and accept(self.db, self.name, msg["msgid"], msg, chat):
                    recorded += 1
            cursor = result.get("next_cursor") or cursor
            kv.put(self.db, key, {"cursor": cursor})
            if not result.get("has_more"):
                return recorded

    @staticmethod
    def _chat_of(msg: dict[str, Any]) -> str | None:
        """The chat of a customer message or an enter_session event; None for what the bot ignores."""
        if msg.get("origin") == 3 and msg.get("external_userid"):
            return f"{msg['open_kfid']}:{msg['external_userid']}"
        event = msg.get("event") or {}
        if msg.get("msgtype") == "event" and event.get("event_type") == "enter_session":
            return f"{event['open_kfid']}:{event['external_userid']}"
        return None

    def parse_sync(self, payload: dict[str, Any]) -> list[Incoming]:
        if payload.get("kind") == "sync":
            if self.open_kfid and payload["open_kfid"] != self.open_kfid:
                log.info("kf event for another kf account ignored")
                return []
            log.info("kf sync recorded %s new messages", self.sync(payload["open_kfid"], payload["token"]))
            return []
        chat = self._chat_of(payload)
        if chat is None:
            return []
        open_kfid, user = chat.split(":", 1)
        msg_id, kind = payload["msgid"], payload.get("msgtype")
        if kind == "event":
            self._open_welcome(chat, payload["event"].get("welcome_code"))
            return [Incoming(self.name, chat, user, text="/start")]
        self._open_window(chat, int(payload.get("send_time") or time.time()))
        if kind == "text":
            text = payload.get("text") or {}
            if text.get("menu_id"):
                return [Incoming(self.name, chat, user, button=text["menu_id"], message_id=msg_id)]
            return [self.text_incoming(chat, user, text.get("content", ""), msg_id)]
        if kind in ("image", "file"):
            default = f"image-{msg_id}.jpg" if kind == "image" else f"file-{msg_id}"
            return self.file_incoming(chat, user, payload[kind]["media_id"], msg_id, default)
        if kind == "voice":
            return self.voice_incoming(chat, user, payload["voice"]["media_id"], msg_id)
        return [Incoming(self.name, chat, user, message_id=msg_id, notice=UNSUPPORTED_NOTICE)]

    async def parse(self, payload: dict[str, Any]) -> list[Incoming]:
        return await asyncio.to_thread(self.parse_sync, payload)

    # -- the reply window -----------------------------------------------------------------------

    def _window_key(self, chat_id: str) -> str:
        return f"wecom_kf:window:{chat_id}"

    def _open_window(self, chat_id: str, sent_at: int) -> None:
        """The customer wrote: five more messages may go within 48 hours."""
        state = kv.get(self.db, self._window_key(chat_id)) or {}
        if sent_at >= state.get("since", 0):
            kv.put(self.db, self._window_key(chat_id), {"since": sent_at, "sent": 0})

    def _open_welcome(self, chat_id: str, code: str | None) -> None:
        if code:
            state = kv.get(self.db, self._window_key(chat_id)) or {}
            state["welcome"] = {"code": code, "until": time.time() + KF_WELCOME_SECONDS}
            kv.put(self.db, self._window_key(chat_id), state)

    # -- sending --------------------------------------------------------------------------------

    @staticmethod
    def messages(reply: Reply, lang: str) -> tuple[list[dict[str, Any]], bool]:
        """The kf messages of a reply, and whether its buttons went out as a numbered list.

        Buttons become a menu message (msgmenu) the customer taps; tapping sends a text whose
        menu_id is the payload. Payloads over kf's 128 bytes fall back to the numbered list.
        """
        if reply.buttons and all(len(b.payload.encode()) <= KF_MENU_ITEM_BYTES
                                 and len(b.label.encode()) <= KF_MENU_ITEM_BYTES for b in reply.buttons):
            head = render(Reply(reply.text, files=reply.files), lang)
            parts = split_text(head, KF_MENU_HEAD_BYTES) if head else [""]
            items = [{"type": "click", "click": {"id": b.payload, "content": b.label}} for b in reply.buttons]
            return ([{"msgtype": "text", "text": {"content": p}} for p in parts[:-1]]
                    + [{"msgtype": "msgmenu", "msgmenu": {"head_content": parts[-1], "list": items}}]), False
        return [{"msgtype": "text", "text": {"content": p}} for p in split_text(render(reply, lang))], True

    def deliver(self, chat_id: str, reply: Reply, sent: SentParts) -> str | None:
        open_kfid, user = chat_id.split(":", 1)
        messages, numbered = self.messages(reply, self.language(chat_id))
        numbers = reply.buttons if numbered else []
        if len(messages) > KF_WINDOW_MESSAGES:
            raise PermanentSendError(f"kf: reply needs {len(messages)} messages, more than kf allows at once")
        remaining = sent.remaining(len(messages))
        key = self._window_key(chat_id)
        state = kv.get(self.db, key) or {}
        welcome = state.pop("welcome", None)
        if time.time() >= state.get("since", 0) + KF_WINDOW_SECONDS:
            if welcome and len(remaining) == 1 and time.time() < welcome["until"]:
                kv.put(self.db, key, state)  # a welcome code is good for one message
                result = self.api.call("post", "kf/send_msg_on_event",
                                       {"code": welcome["code"], **messages[remaining[0]]})
                self.numbers.remember(chat_id, numbers)
                return result.get("msgid")
            raise DeferredSendError("kf: no customer message within 48 hours")
        if state.get("sent", 0) + len(remaining) > KF_WINDOW_MESSAGES:
            raise DeferredSendError("kf: 5 messages already sent since the customer's last message")
        message_id = None
        for number in remaining:
            try:
                result = self.api.call("post", "kf/send_msg", {"touser": user, "open_kfid": open_kfid,
                                                               **messages[number]})
            except WeComError as exc:
                if exc.errcode == 95001:
                    kv.put(self.db, key, {**state, "sent": KF_WINDOW_MESSAGES})
                    raise DeferredSendError(str(exc)) from None
                raise
            state["sent"] = state.get("sent", 0) + 1
            kv.put(self.db, key, state)
            message_id = result.get("msgid") or message_id
            if number + 1 < len(messages):
                sent.mark(number + 1)
        self.numbers.remember(chat_id, numbers)
        return message_id

    # -- handing the customer to a person -------------------------------------------------------

    def handoff_to_person_sync(self, chat_id: str, servicer_userid: str | None = None) -> str | None:
        open_kfid, user = chat_id.split(":", 1)
        data: dict[str, Any] = {"open_kfid": open_kfid, "external_userid": user,
                                "service_state": 3 if servicer_userid else 2}
        if servicer_userid:
            data["servicer_userid"] = servicer_userid
        try:
            result = self.api.call("post", "kf/service_state/trans", data)
        except WeComError as exc:
            if exc.errcode == 95014:
                raise NoServicerOnDuty(str(exc)) from None
            raise
        return result.get("msg_code")

    async def handoff_to_person(self, chat_id: str, servicer_userid: str | None = None) -> str | None:
        """Move the kf session to a person: to a named on-duty servicer (state 3) or into
        WeCom's queue (state 2). Returns WeCom's msg_code; raises ``NoServicerOnDuty`` (95014)
        or ``WeComError``. The bot's own kf/send_msg stops working once the session moved."""
        return await asyncio.to_thread(self.handoff_to_person_sync, chat_id, servicer_userid)
