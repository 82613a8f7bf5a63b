"""What every channel needs and writes once: splitting a text at the platform's limit, the parts
of a reply already sent, numbered buttons for platforms without buttons, and long payloads kept
server side for platforms with a short button field.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.channels import kv
from handlers.messages import Button
from storage.db import Database

#: How a platform counts a text's length.
Measure = Callable[[str], int]


def characters(text: str) -> int:
    return len(text)


def utf16_units(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    """WeCom counts UTF-8 bytes (a Chinese character is three)."""
    return len(text.encode())


# -- splitting ----------------------------------------------------------------------------------

#: Cut at paragraphs, else lines, else words, else anywhere.
SEPARATORS = ("\n\n", "\n", " ")


def split_text(text: str, limit: int, measure: Measure = characters) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` (as ``measure`` counts), at the coarsest
    separator that fits; the separator at a cut is dropped, blank pieces too."""
    return [part for part in _split(text, limit, measure, SEPARATORS) if part.strip()]


def _split(text: str, limit: int, measure: Measure, separators: tuple[str, ...]) -> list[str]:
    if measure(text) <= limit:
        return [text]
    if not separators:
        return _hard_cut(text, limit, measure)
    sep, finer = separators[0], separators[1:]
    parts: list[str] = []
    current = ""
    for piece in text.split(sep):
        candidate = current + sep + piece if current else piece
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        if measure(piece) <= limit:
            current = piece
        else:
            *done, current = _split(piece, limit, measure, finer)
            parts += done
    if current:
        parts.append(current)
    return parts


def _hard_cut(text: str, limit: int, measure: Measure) -> list[str]:
    parts, current, size = [], [], 0
    for char in text:
        width = measure(char)
        if size + width > limit and current:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return parts


# -- a reply in several parts -------------------------------------------------------------------


@dataclass
class SentParts:
    """How many parts of one reply are already out. The outbox sender makes one per row, starting
    from what the row recorded, and ``mark`` records each part on the row as soon as it is out, so
    a retry (on any worker) goes on from the first part not sent and never repeats one."""

    done: int = 0
    record: Callable[[int], None] = field(default=lambda done: None, repr=False)

    def remaining(self, total: int) -> range:
        return range(min(self.done, total), total)

    def mark(self, done: int) -> None:
        """Part number ``done`` went out (sync: a database write; call it in a thread)."""
        self.done = done
        self.record(done)


# -- numbered buttons ---------------------------------------------------------------------------


def numbered_lines(buttons: list[Button], template: str = "{number}. {label}") -> list[str]:
    """Buttons as lines the customer answers with a number (Rasa's text fallback)."""
    return [template.format(number=i, label=b.label) for i, b in enumerate(buttons, 1)]


class NumberedButtons:
    """Which payload a bare number means in a chat: the buttons of the last message sent there,
    kept in the database so any worker maps "2" back to the second one."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel

    def _key(self, chat_id: str) -> str:
        return f"buttons:{self.channel}:{chat_id}"

    def remember(self, chat_id: str, buttons: list[Button]) -> None:
        """The numbers refer to the last message sent (one without buttons: no numbers)."""
        if buttons:
            kv.put(self.db, self._key(chat_id), {"payloads": [b.payload for b in buttons]})
        else:
            kv.remove(self.db, self._key(chat_id))

    def payload_of(self, chat_id: str, text: str) -> str | None:
        """The payload a typed number picks, or None when the text is not one of the numbers."""
        choice = text.strip()
        if not choice.isdigit():
            return None
        payloads = (kv.get(self.db, self._key(chat_id)) or {}).get("payloads", [])
        return payloads[int(choice) - 1] if 1 <= int(choice) <= len(payloads) else None


# -- long payloads ------------------------------------------------------------------------------

#: Marks button data that is a key to a stored payload (handler payloads never start with it).
STORED_MARK = "#"
#: A stored payload outlives any button a customer may still press; the kv purge deletes it after.
STORED_PAYLOAD_TTL = timedelta(days=180)


class PayloadStore:
    """Button payloads too long for the platform's field, kept server side under a short key."""

    def __init__(self, db: Database, channel: str, limit_bytes: int) -> None:
        self.db = db
        self.channel = channel
        self.limit_bytes = limit_bytes

    def _key(self, digest: str) -> str:
        return f"{self.channel}:button:{digest}"

    def data_for(self, payload: str) -> str:
        """The payload itself when it fits; else a key to it, stored for every worker."""
        if len(payload.encode()) <= self.limit_bytes and not payload.startswith(STORED_MARK):
            return payload
        digest = hashlib.sha256(payload.encode()).hexdigest()[:40]
        kv.put(self.db, self._key(digest), {"payload": payload}, ttl=STORED_PAYLOAD_TTL)
        return STORED_MARK + digest

    def payload_of(self, data: str) -> str:
        """Back from the button's data to the payload; an unknown key is handed on as is (a stale
        button, which the engine answers honestly)."""
        if not data.startswith(STORED_MARK):
            return data
        value = kv.get(self.db, self._key(data[len(STORED_MARK):]))
        return value["payload"] if value else data
