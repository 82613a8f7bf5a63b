"""Files both ways: downloads of what the customer sent (voice messages apart, for recognition),
stored attachments sent as documents."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest

from bot.channels.base import PermanentSendError
from handlers.messages import FileRef, IncomingFile, VoiceMessage
from storage.attachments import AttachmentStore
from storage.db import Database
from storage.models import Attachment

log = logging.getLogger(__name__)


def _described(message: Message, media: Any) -> tuple[Any, str, str | None]:
    name = getattr(media, "file_name", None) or f"{type(media).__name__.lower()}_{message.message_id}"
    return media, name, getattr(media, "mime_type", None)


def _media_of(message: Message) -> list[tuple[Any, str, str | None]]:
    found: list[tuple[Any, str, str | None]] = []
    if message.photo:
        found.append((message.photo[-1], f"photo_{message.message_id}.jpg", "image/jpeg"))
    found += [_described(message, media) for media in (message.document, message.video) if media is not None]
    return found


async def _download(bot: Bot, message: Message, described: tuple[Any, str, str | None],
                    limit: int) -> IncomingFile | None:
    """One file; one announced over ``limit`` is not fetched, only its size passed on."""
    media, name, mime = described
    if media.file_size is not None and media.file_size > limit:
        return IncomingFile(b"", name, mime, declared_size=media.file_size)
    try:
        data = await (await bot.get_file(media.file_id)).download_as_bytearray()
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            return IncomingFile(b"", name, mime, declared_size=max(media.file_size or 0, limit + 1))
        log.warning("telegram file of message %s not downloadable: %s", message.message_id, exc)
        return None
    return IncomingFile(bytes(data), name, mime)


async def download_files(bot: Bot, message: Message, limit: int) -> list[IncomingFile]:
    """The message's files (photos, documents, videos); voice and audio are ``download_voice``'s."""
    files = [await _download(bot, message, described, limit) for described in _media_of(message)]
    return [file for file in files if file is not None]


async def download_voice(bot: Bot, message: Message, limit: int) -> VoiceMessage | None:
    """A voice message or an audio file (OGG/Opus, MP3...), to be recognised; None for other messages
    and for audio that could not be downloaded (the engine then answers its text, if any)."""
    media = message.voice or message.audio
    if media is None:
        return None
    audio = await _download(bot, message, _described(message, media), limit)
    return VoiceMessage(audio) if audio is not None else None


def _attachment_bytes(db: Database, attachments: AttachmentStore, ref: FileRef) -> tuple[bytes, str]:
    with db.session() as session:
        attachment = session.get(Attachment, ref.attachment_id)
        if attachment is None:
            raise PermanentSendError(f"attachment {ref.attachment_id} does not exist")
        return attachments.read(attachment), ref.name or attachment.original_name or "file"


async def send_document(bot: Bot, db: Database, attachments: AttachmentStore, chat_id: str, ref: FileRef,
                        markup: Any, thread: int | None = None) -> Message:
    data, name = await asyncio.to_thread(_attachment_bytes, db, attachments, ref)
    return await bot.send_document(chat_id, InputFile(data, filename=name), reply_markup=markup,
                                   message_thread_id=thread)
