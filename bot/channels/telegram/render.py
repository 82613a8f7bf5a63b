"""Replies as Telegram messages: HTML text within the length limit, keyboards, the phone request."""
from __future__ import annotations

import html
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels import kv, toolkit
from bot.channels.telegram.api import CHANNEL
from handlers.messages import Button, Reply
from storage.db import Database

#: Longest message text, counted in UTF-16 code units as Telegram counts it.
MAX_TEXT = 4096
#: Telegram refuses callback_data longer than this many bytes.
MAX_CALLBACK_BYTES = 64
#: The reply-button payload that asks the customer to share their phone number.
SHARE_PHONE = "share:phone"
#: Buttons whose labels are at most this long (UTF-16 units) go two to a keyboard row.
SHORT_LABEL = 12
#: The text of a reply that has only buttons (no words, so no language to pick).
BUTTONS_ONLY = "👇"

utf16_len = toolkit.utf16_units


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` UTF-16 units (the toolkit's one splitter)."""
    return toolkit.split_text(text, limit, toolkit.utf16_units)


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


class Keyboards:
    """Inline keyboards (long payloads stored server side), and the reply keyboard that asks for
    the phone number, whose other labels are remembered per chat so a tap maps back to a payload."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.payloads = toolkit.PayloadStore(db, CHANNEL, MAX_CALLBACK_BYTES)

    @staticmethod
    def _keyboard_key(chat_id: str) -> str:
        return f"{CHANNEL}:keyboard:{chat_id}"

    def markup(self, chat_id: str, buttons: list[Button]) -> Any:
        """The markup for a reply's last message (sync: reads and writes the kv table)."""
        keyboard_key = self._keyboard_key(chat_id)
        if any(b.payload == SHARE_PHONE for b in buttons):
            kv.put(self.db, keyboard_key, {b.label: b.payload for b in buttons if b.payload != SHARE_PHONE})
            return ReplyKeyboardMarkup(
                [[KeyboardButton(b.label, request_contact=(b.payload == SHARE_PHONE) or None)] for b in buttons],
                one_time_keyboard=True, resize_keyboard=True,
            )
        had_keyboard = kv.remove(self.db, keyboard_key)
        if buttons:
            return InlineKeyboardMarkup([
                [InlineKeyboardButton(b.label, callback_data=self.payloads.data_for(b.payload)) for b in row]
                for row in button_rows(buttons)
            ])
        return ReplyKeyboardRemove() if had_keyboard else None

    def keyboard_payload(self, chat_id: str, text: str) -> str | None:
        """The payload of a reply-keyboard label the customer tapped, if ``text`` is one."""
        value = kv.get(self.db, self._keyboard_key(chat_id))
        return value.get(text) if value else None
