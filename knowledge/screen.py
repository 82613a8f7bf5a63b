"""Is there a question in this text at all? Content-free messages are not asked of the knowledge.

Emoji, stickers rendered as text, punctuation, a markup or HTML snippet with
no words in it, and very long pastes (a log, a document) are declined before
retrieval: the nearest FAQ entry of such a text is noise, and a long paste
is something for a person to read.
"""
from __future__ import annotations

import html
import re
import unicodedata

MAX_QUESTION_CHARS = 1000  # a customer's question is a sentence or two; longer is a paste

_TAG = re.compile(r"<[^<>]{0,500}>")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_MD = re.compile(r"[*_`~#>\[\]()|=-]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more, any script (NFKC'd)


def text_has_question(text: str | None) -> bool:
    """True when the text has something to match: a Chinese character, or a word of two letters or more,
    once tags, entities, links and markup are removed; False for empty, emoji-only, punctuation-only,
    markup-only text and for pastes longer than MAX_QUESTION_CHARS characters."""
    if not text:
        return False
    if len(text) > MAX_QUESTION_CHARS:
        return False
    t = unicodedata.normalize("NFKC", html.unescape(text))
    t = _TAG.sub(" ", t)
    t = _URL.sub(" ", t)
    t = _MD.sub(" ", t)
    return bool(_CJK.search(t) or _WORD.search(t))
