"""What a column cannot hold never reaches it: NUL (PostgreSQL text and JSONB refuse it) and lone
surrogates (neither database can encode them) are stripped from text and escaped in JSON, on both
databases alike, so a hostile character is not a 500 and not a delivery lost."""
from __future__ import annotations

import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """``value`` without NUL, a lone surrogate shown as U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _LONE_SURROGATE.sub(REPLACEMENT, value) if _LONE_SURROGATE.search(value) else value


def _escape_text(value: str) -> str:
    """In raw JSON a NUL stays visible as the six characters ``\\u0000`` (the record keeps what came)."""
    if "\x00" in value:
        value = value.replace("\x00", "\\u0000")
    return _LONE_SURROGATE.sub(REPLACEMENT, value) if _LONE_SURROGATE.search(value) else value


def clean_json(value: Any) -> Any:
    """A JSON document whose strings (keys too) every database can store."""
    if isinstance(value, str):
        return _escape_text(value)
    if isinstance(value, dict):
        return {_escape_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def clean_parameters(parameters: Any) -> Any:
    """Statement parameters (a dict, a sequence, or many of them) with every string cleaned."""
    if isinstance(parameters, str):
        return clean_text(parameters)
    if isinstance(parameters, dict):
        return {k: clean_parameters(v) for k, v in parameters.items()}
    if isinstance(parameters, list | tuple):
        return type(parameters)(clean_parameters(v) for v in parameters)
    return parameters
