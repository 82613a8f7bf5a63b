"""Files both ways: downloads of what the customer sent, stored attachments sent as documents."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest

from bot.channels.base import PermanentSendError
from handlers.messages import FileRef, IncomingFile
from storage.attachments import AttachmentStore
from storage.db import Database
from storage.models import Attachment

log = logging.getLogger(__name__)


def _media_of(message: Message) -> list[tuple[Any, str, str | None]]:
    found: list[tuple[Any, str, str | None]] = []
    if message.photo:
        found.append((message.photo[-1], f"photo_{message.message_id}.jpg", "image/jpeg"))
    for media in (message.document, message.audio, message.video, message.voice):
        if media is not None:
            name = getattr(media, "file_name", None) or f"{type(media).__name__.lower()}_{message.message_id}"
            found.append((media, name, getattr(media, "mime_type", None)))
    return found


async def download_files(bot: Bot, message: Message, limit: int) -> list[IncomingFile]:
    """The message's files; one announced over ``limit`` is not fetched, only its size passed on."""
    files = []
    for media, name, mime in _media_of(message):
        if media.file_size is not None and media.file_size > limit:
            files.append(IncomingFile(b"", name, mime, declared_size=media.file_size))
            continue
        try:
            data = await (await bot.get_file(media.file_id)).download_as_bytearray()
        except BadRequest as exc:
            if "too big" in str(exc).lower():
                files.append(IncomingFile(b"", name, mime, declared_size=max(media.file_size or 0, limit + 1)))
            else:
                log.warning("telegram file of message %s not downloadable: %s", message.message_id, exc)
            continue
        files.append(IncomingFile(bytes(data), name, mime))
    return files


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
