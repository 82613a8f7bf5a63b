"""Every JSON body is parsed with a size and a depth limit.

``parse_json`` is the one way an endpoint that reads a body itself (the Telegram webhook) parses
it; ``JsonBodyLimits`` applies the same check, before any route runs, to every other request
whose body FastAPI would parse as JSON (the web chat, the REST API). A body past the size limit
answers 413, one nested deeper than ``MAX_DEPTH`` 400 (before: 500, ``RecursionError``, on the
Telegram webhook at 50,000 levels), each with a message saying which limit it broke.
"""

from __future__ import annotations

import json
from typing import Any

import numpy
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The deepest nesting any of our bodies needs (a Telegram update with a reply in a reply is
#: about 8 levels); Python's parser gives up near 1,000.
MAX_DEPTH = 64
#: Largest JSON body of the web chat and the REST API: a 20,000-character message fits however
#: it is escaped (an emoji as ``\ud83d\ude00`` is 12 bytes).
JSON_BODY_LIMIT = 256 * 1024
#: Largest Telegram update (two 4,096-character texts, escaped, with their entities fit many times).
WEBHOOK_JSON_LIMIT = 1024 * 1024
#: Every byte but a bracket is dropped, and braces count as brackets.
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


class JsonBodyRefused(HTTPException):
    """A body over a limit (413) or too deep or not JSON (400); answered ``{"error": ...}``."""


def nesting_depth(body: bytes) -> int:
    """How deep the arrays and objects of ``body`` nest (brackets inside strings do not count).
    No Python loop over the body: escapes out, strings out, the brackets as +1/-1 steps and the
    highest running sum (numpy), so a 1 MiB body takes a few milliseconds whatever it holds."""
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(text.split(b'"')[::2]).translate(_AS_BRACKETS, _NOT_BRACKET)
    if not brackets:
        return 0
    steps = 92 - numpy.frombuffer(brackets, dtype=numpy.uint8).astype(numpy.int32)  # "[" 91 -> +1, "]" 93 -> -1
    return int(numpy.cumsum(steps).max())


def check_json(body: bytes, limit: int) -> None:
    """Refuse a body over ``limit`` bytes (413) or nested deeper than ``MAX_DEPTH`` (400)."""
    if len(body) > limit:
        raise JsonBodyRefused(413, f"the JSON body is larger than the limit of {limit} bytes")
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        raise JsonBodyRefused(400, f"the JSON body nests {depth} levels deep; the limit is {MAX_DEPTH}")


def parse_json(body: bytes, limit: int) -> Any:
    """The JSON value of ``body``, within the limits; 400 when it is not JSON."""
    check_json(body, limit)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise JsonBodyRefused(400, "the body is not valid JSON") from None


def _may_be_json(content_type: bytes | None) -> bool:
    """FastAPI parses a body as JSON when it says so, and when it names no type at all."""
    if content_type is None:
        return True
    media = content_type.split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class JsonBodyLimits:
    """ASGI middleware: a JSON body is read, checked by ``check_json`` and handed on, or refused.
    A body that names no type and does not start like JSON (WeCom's XML) is handed on unchecked."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD", "OPTIONS")
            or not _may_be_json(headers.get(b"content-type"))
        ):
            await self.app(scope, receive, send)
            return
        limit = next((v for prefix, v in self.limits.items() if scope["path"].startswith(prefix)), self.default)
        body, more = await _read_up_to(receive, limit)
        if b"content-type" in headers or body.lstrip()[:1] in (b"{", b"["):
            try:
                check_json(body, limit)
            except JsonBodyRefused as refused:
                await send_error(send, refused.status_code, str(refused.detail))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}

        await self.app(scope, replay, send)


async def _read_up_to(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body's first chunks, until it ends or passes ``limit``; and whether more follows."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more and size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = bool(message.get("more_body", False))
    return b"".join(chunks), more


async def send_error(send: Send, status: int, message: str) -> None:
    """Answer ``{"error": message}`` from a middleware, before any route ran."""
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
