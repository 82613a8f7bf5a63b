"""Platform-free messages: what a channel hands the engine and what handlers return."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Button:
    """A choice offered to the customer; ``payload`` comes back in ``Incoming.button``."""

    label: str
    payload: str


@dataclass
class FileRef:
    """A file sent to the customer: a stored attachment or a public URL."""

    name: str
    url: str | None = None
    attachment_id: int | None = None


@dataclass
class Reply:
    """One message from the bot (or staff) to a customer."""

    text: str = ""
    buttons: list[Button] = field(default_factory=list)
    files: list[FileRef] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Reply":
        return cls(
            text=data.get("text", ""),
            buttons=[Button(**b) for b in data.get("buttons", [])],
            files=[FileRef(**f) for f in data.get("files", [])],
        )


@dataclass
class IncomingFile:
    """A file as the channel downloaded it; the engine stores it and hands handlers a record."""

    data: bytes
    name: str | None = None
    declared_mime: str | None = None
    #: Size the platform announced before any download. A file announced over the upload limit
    #: is not fetched at all (``data`` stays empty); the engine refuses it by this number.
    declared_size: int | None = None


@dataclass
class VoiceMessage:
    """A voice message: its audio, and what was said once recognised."""

    audio: IncomingFile
    #: The words: the platform's own recognition (WeCom's Recognition) or the bot's, filled in
    #: before the turn; "" when nothing could be recognised, None while not yet tried.
    transcript: str | None = None


@dataclass
class Incoming:
    """One customer message, parsed by a channel adapter."""

    channel: str
    chat_id: str
    user_id: str
    text: str = ""
    button: str | None = None
    files: list[IncomingFile] = field(default_factory=list)
    message_id: str | None = None
    user_name: str | None = None
    lang_hint: str | None = None
    contact_phone: str | None = None
    #: Unique key of this delivery on its platform (update_id, MsgId, ...); repeats are dropped.
    delivery_key: str | None = None
    #: An i18n key the channel asks to be answered with instead of a handler's answer (a voice
    #: message it cannot read, a file it could not fetch); stored and sent like any reply.
    notice: str | None = None
    #: A voice message (Telegram voice or audio, WeCom voice, a web chat recording): the engine
    #: answers its transcript like the same text, and keeps the audio in the transcript for staff.
    voice: VoiceMessage | None = None
    #: The customer's network address where the channel sees it (the web chat; not Telegram or
    #: WeCom, whose servers deliver); guessing limits count per address.
    address: str | None = None


@dataclass
class StaffIncoming:
    """What a staff member wrote in the staff room (or a ``/link`` sent to the bot privately),
    parsed by the room's channel; handlers/staff_room.py decides what it does."""

    #: The platform user who wrote (linked to a staff account, or ignored).
    user_id: str
    #: The room's chat, and the thread in it (None: a private chat with the bot, or no thread).
    room: str | None
    thread: str | None
    #: Where an answer to this staff member goes (an address of the room's outbox channel).
    reply_to: str
    text: str = ""
    files: list[IncomingFile] = field(default_factory=list)
    message_id: str | None = None
