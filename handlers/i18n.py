"""The one table of user-facing strings (zh, en).

The table is assembled from ``handlers/locales/*.yaml`` (one file per feature, so
features add strings without touching each other's files). Each key maps to
``{zh: ..., en: ...}`` with ``str.format`` placeholders. A key defined twice or
missing a language is an error at load time, not a surprise in a chat.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

LANGUAGES = ("zh", "en")
LOCALES_DIR = Path(__file__).parent / "locales"


class I18nError(Exception):
    pass


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for path in sorted(LOCALES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, texts in data.items():
            if key in merged:
                raise I18nError(f"{path.name}: key {key!r} already defined in {origin[key]}")
            if not isinstance(texts, dict) or any(not isinstance(texts.get(lang), str) for lang in LANGUAGES):
                raise I18nError(f"{path.name}: key {key!r} needs a zh and an en text")
            merged[key] = {lang: texts[lang] for lang in LANGUAGES}
            origin[key] = path.name
    return merged


def t(key: str, lang: str, **kwargs: object) -> str:
    """The text for ``key`` in ``lang`` (falling back to zh), formatted with ``kwargs``."""
    texts = table().get(key)
    if texts is None:
        raise KeyError(f"unknown i18n key {key!r}")
    text = texts.get(lang) or texts["zh"]
    return text.format(**kwargs) if kwargs else text


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str | None:
    """zh when the text has Chinese characters, en when it is mostly Latin words, else None."""
    if _CJK.search(text):
        return "zh"
    if len(_LATIN.findall(text)) >= 3:
        return "en"
    return None
