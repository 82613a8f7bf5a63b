"""A fake Telegram Bot API for the tests: real JSON shapes, scripted failures, a record of calls.

``FakeBotApi`` holds the state. Two ways to reach it, both going through python-telegram-bot's
own response handling (429 -> RetryAfter, 400 -> BadRequest, 5xx -> NetworkError):
``FakeRequest``, a ``telegram.request.BaseRequest`` answering in memory (fast, for most tests),
and ``asgi_app``, the same API over real HTTP for a uvicorn server on 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import html
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram.request import BaseRequest, RequestData

TOKEN = "123456:TEST-token_x"
SECRET = "webhook-secret_1"
BASE_URL = "http://bot-api.test/bot"
FILE_URL = "http://bot-api.test/file/bot"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Service desk", "username": "desk_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
DATE = 1767225600
#: The staff supergroup (topics enabled, the bot an admin): its chat, as Telegram describes it.
STAFF_CHAT_ID = -1001234567890
STAFF_CHAT = {"id": STAFF_CHAT_ID, "type": "supergroup", "title": "Desk staff", "is_forum": True}
#: The colour Telegram gives a topic created without one (one of the six allowed).
TOPIC_COLOR = 7322096

_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "tg-spoiler", "span", "blockquote"}
_HTML_TOKEN = re.compile(r"<(/?)([A-Za-z-]+)((?:\s[^<>]*)?)>|&(?:lt|gt|amp|quot|#\d+|#x[0-9A-Fa-f]+);|[<>&]")


class ApiError(Exception):
    """An error answer of the Bot API: its status code and description."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.status = status


class EntityError(ApiError):
    pass


#: The actions ``sendChatAction`` accepts (Bot API reference).
CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note",
                          "upload_video_note"})


def visible_text(text: str) -> str:
    """What the customer sees of an HTML-mode text, parsed the way Telegram does (strictly)."""
    out: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _HTML_TOKEN.finditer(text):
        out.append(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if match.group(2):
            name = match.group(2).lower()
            if name not in _ALLOWED_TAGS:
                raise EntityError(f"Can't parse entities: unsupported start tag \"{name}\"")
            if match.group(1):
                if not stack or stack.pop() != name:
                    raise EntityError(f"Can't parse entities: unmatched end tag \"{name}\"")
            else:
                stack.append(name)
        elif token.startswith("&") and len(token) > 1:
            out.append(html.unescape(token))
        else:
            raise EntityError(f"Can't parse entities: unexpected \"{token}\"")
    if stack:
        raise EntityError(f"Can't parse entities: unclosed tag \"{stack[-1]}\"")
    out.append(text[position:])
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Failure:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    network: bool = False
    #: Matching calls let through before this failure strikes.
    after: int = 0


@dataclass
class FakeBotApi:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Messages the bot sent and Telegram accepted, in order.
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: Updates waiting for getUpdates; dropped once confirmed by a larger offset.
    pending_updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    #: Scripted failures, consumed one per matching call in order.
    failures: list[Failure] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answered_queries: list[str] = field(default_factory=list)
    #: Forum topics of the staff group by message_thread_id: {"name", "closed"}.
    topics: dict[int, dict[str, Any]] = field(default_factory=dict)
    _message_id: int = 500
    _update_id: int = 7000
    _arrived: asyncio.Event | None = None

    # -- scripting the fake ---------------------------------------------------------------------

    def fail(self, method: str, status: int = 500, description: str = "Internal Server Error",
             times: int = 1, retry_after: int | None = None, network: bool = False, after: int = 0) -> None:
        self.failures += [Failure(method, status, description, retry_after, network, after) for _ in range(times)]

    def add_file(self, data: bytes, path: str) -> str:
        file_id = f"F{len(self.files) + 1}"
        self.files[file_id] = (path, data)
        return file_id

    def message(self, chat_id: int = 42, user_id: int | None = None, chat_type: str = "private",
                language_code: str = "zh-hans", **extra: Any) -> dict[str, Any]:
        self._message_id += 1
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "Li", "last_name": "Lei",
                "language_code": language_code}
        chat = {"id": chat_id, "type": chat_type, "first_name": "Li"} if chat_type == "private" else \
            {"id": chat_id, "type": chat_type, "title": "a group"}
        return {"message_id": self._message_id, "date": DATE, "chat": chat, "from": user, **extra}

    def update(self, **kinds: Any) -> dict[str, Any]:
        self._update_id += 1
        return {"update_id": self._update_id, **kinds}

    def text_update(self, text: str, chat_id: int = 42, **kw: Any) -> dict[str, Any]:
        return self.update(message=self.message(chat_id, text=text, **kw))

    def photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        small = self.add_file(data[:64], "photos/small.jpg")
        big = self.add_file(data, f"photos/file_{len(self.files)}.jpg")
        return [{"file_id": small, "file_unique_id": "u" + small, "width": 90, "height": 60, "file_size": 64},
                {"file_id": big, "file_unique_id": "u" + big, "width": 1280, "height": 853, "file_size": len(data)}]

    def photo_update(self, data: bytes, chat_id: int = 42, **extra: Any) -> dict[str, Any]:
        return self.update(message=self.message(chat_id, photo=self.photo_sizes(data), **extra))

    def staff_update(self, user_id: int, thread: int | None, first_name: str = "Wang", **content: Any) -> dict[str, Any]:
        """A person's message in the staff group: in topic ``thread`` (None: the General topic),
        shaped as Telegram sends it (a topic message replies to the topic's creation message)."""
        self._message_id += 1
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}
        message: dict[str, Any] = {"message_id": self._message_id, "date": DATE, "chat": STAFF_CHAT, "from": user,
                                   **content}
        if thread is not None:
            created = {"message_id": thread, "date": DATE, "chat": STAFF_CHAT, "from": BOT_USER,
                       "message_thread_id": thread, "is_topic_message": True,
                       "forum_topic_created": {"name": self.topics[thread]["name"], "icon_color": TOPIC_COLOR}}
            message |= {"message_thread_id": thread, "is_topic_message": True, "reply_to_message": created}
        return self.update(message=message)

    def topic_texts(self, thread: int) -> list[str]:
        """What the staff group shows in topic ``thread``, in order (documents as their file name)."""
        return [m["text"] if "text" in m else m["document"][0] for m in self.sent
                if m["chat_id"] == str(STAFF_CHAT_ID) and m.get("message_thread_id") == thread]

    def document_update(self, data: bytes, name: str, mime: str, chat_id: int = 42,
                        file_size: int | None = None) -> dict[str, Any]:
        file_id = self.add_file(data, f"documents/{name}")
        document = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": name, "mime_type": mime,
                    "file_size": len(data) if file_size is None else file_size}
        return self.update(message=self.message(chat_id, document=document))

    def voice_update(self, data: bytes, chat_id: int = 42, kind: str = "voice", **extra: Any) -> dict[str, Any]:
        """A voice message (``kind="voice"``, OGG/Opus) or an audio file (``kind="audio"``)."""
        file_id = self.add_file(data, f"{kind}/file_{len(self.files) + 1}.oga")
        media = {"file_id": file_id, "file_unique_id": "u" + file_id, "duration": 3, "mime_type": "audio/ogg",
                 "file_size": len(data)}
        return self.update(message=self.message(chat_id, **{kind: media}, **extra))

    def callback_update(self, data: str, chat_id: int = 42) -> dict[str, Any]:
        shown = self.message(chat_id, text="(a message with buttons)")
        shown["from"] = {k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")}
        query = {"id": f"Q{self._update_id + 1}", "from": self.message(chat_id)["from"], "chat_instance": "ci-1",
                 "message": shown, "data": data}
        return self.update(callback_query=query)

    def contact_update(self, phone: str, chat_id: int = 42, owner: int | None = None) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "Li", "user_id": owner or chat_id}
        return self.update(message=self.message(chat_id, contact=contact))

    def queue(self, *updates: dict[str, Any]) -> None:
        """Make updates available to getUpdates."""
        self.pending_updates += updates
        if self._arrived is not None:
            self._arrived.set()

    def texts(self, chat_id: int | str = 42) -> list[str]:
        """What the customer in ``chat_id`` sees, in order (documents shown as their file name)."""
        return [m["text"] if "text" in m else m["document"][0] for m in self.sent if m["chat_id"] == str(chat_id)]

    # -- serving --------------------------------------------------------------------------------

    async def wait_for_updates(self, timeout: float) -> None:
        if self.pending_updates or timeout <= 0:
            return
        self._arrived = asyncio.Event()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def call(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> tuple[int, Any]:
        self.calls.append((method, params))
        for failure in self.failures:
            if failure.method == method:
                if failure.after:
                    failure.after -= 1
                    break
                self.failures.remove(failure)
                if failure.network:
                    raise ConnectionResetError("connection reset by fake peer")
                body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
                if failure.retry_after is not None:
                    body["parameters"] = {"retry_after": failure.retry_after}
                return failure.status, body
        handler = getattr(self, "_" + method, None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        try:
            return 200, {"ok": True, "result": handler(params, files)}
        except ApiError as exc:
            prefix = "Bad Request: " if exc.status == 400 else ""
            return exc.status, {"ok": False, "error_code": exc.status, "description": f"{prefix}{exc}"}

    def download(self, path: str) -> tuple[int, bytes]:
        for file_path, data in self.files.values():
            if file_path == path:
                return 200, data
        return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'

    def _getMe(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return BOT_USER

    def _getUpdates(self, params: dict[str, Any], files: Any) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError("Conflict: can't use getUpdates method while webhook is active; "
                           "use deleteWebhook to delete the webhook first", 409)
        offset = int(params.get("offset") or 0)
        if offset:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        return self.pending_updates[: int(params.get("limit") or 100)]

    def _setWebhook(self, params: dict[str, Any], files: Any) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token"),
                        "allowed_updates": _json(params.get("allowed_updates"))}
        return True

    def _deleteWebhook(self, params: dict[str, Any], files: Any) -> bool:
        self.webhook = {}
        return True

    def _setMyCommands(self, params: dict[str, Any], files: Any) -> bool:
        self.commands[params.get("language_code") or ""] = _json(params["commands"])
        return True

    def _answerCallbackQuery(self, params: dict[str, Any], files: Any) -> bool:
        self.answered_queries.append(params["callback_query_id"])
        return True

    def _sendChatAction(self, params: dict[str, Any], files: Any) -> bool:
        """Telegram's answer to a chat action: ``true``, or 400 for an action it does not know."""
        if params.get("action") not in CHAT_ACTIONS:
            raise EntityError("wrong parameter action in request")
        if "chat_id" not in params:
            raise EntityError("chat_id is empty")
        return True

    def _topic(self, params: dict[str, Any]) -> dict[str, Any]:
        if int(params["chat_id"]) != STAFF_CHAT_ID:
            raise EntityError("the chat is not a forum")
        topic = self.topics.get(int(params["message_thread_id"]))
        if topic is None:
            raise EntityError("message thread not found")
        return topic

    def _createForumTopic(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        """A ForumTopic; its id is that of the service message that opens it, as in Telegram."""
        if int(params["chat_id"]) != STAFF_CHAT_ID:
            raise EntityError("the chat is not a forum")
        name = str(params["name"])
        if not 1 <= len(name) <= 128:
            raise EntityError("TOPIC_TITLE_EMPTY" if not name else "topic name is too long")
        self._message_id += 1
        self.topics[self._message_id] = {"name": name, "closed": False}
        return {"message_thread_id": self._message_id, "name": name, "icon_color": TOPIC_COLOR}

    def _set_closed(self, params: dict[str, Any], closed: bool) -> bool:
        topic = self._topic(params)
        if topic["closed"] == closed:
            raise EntityError("TOPIC_NOT_MODIFIED")
        topic["closed"] = closed
        return True

    def _closeForumTopic(self, params: dict[str, Any], files: Any) -> bool:
        return self._set_closed(params, True)

    def _reopenForumTopic(self, params: dict[str, Any], files: Any) -> bool:
        return self._set_closed(params, False)

    def _editForumTopic(self, params: dict[str, Any], files: Any) -> bool:
        topic = self._topic(params)
        if params.get("name") in (None, topic["name"]):
            raise EntityError("TOPIC_NOT_MODIFIED")
        topic["name"] = str(params["name"])
        return True

    def _getFile(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise EntityError("wrong file_id or the file is temporarily unavailable")
        path, data = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": "u" + file_id, "file_size": len(data), "file_path": path}

    def _sendMessage(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        raw = str(params["text"])
        text = visible_text(raw) if params.get("parse_mode") == "HTML" else raw
        if not text.strip():
            raise EntityError("message text is empty")
        if utf16_len(text) > 4096:
            raise EntityError("message is too long")
        markup = _json(params.get("reply_markup"))
        _check_markup(markup)
        record = {"chat_id": str(params["chat_id"]), "text": text, "html": raw, "reply_markup": markup}
        return self._accept(record, params, text=text)

    def _sendDocument(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        name, data = files["document"]
        markup = _json(params.get("reply_markup"))
        _check_markup(markup)
        record = {"chat_id": str(params["chat_id"]), "document": (name, data), "reply_markup": markup}
        return self._accept(record, params, document={"file_id": "D1", "file_unique_id": "uD1", "file_name": name,
                                              "file_size": len(data)})

    def _accept(self, record: dict[str, Any], params: dict[str, Any], **content: Any) -> dict[str, Any]:
        """Record a message the bot sent; in the staff group, into the topic named (or General)."""
        chat_id = int(record["chat_id"])
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": "Li"}
        if chat_id == STAFF_CHAT_ID:
            chat = STAFF_CHAT
            if params.get("message_thread_id") is not None:
                thread = int(params["message_thread_id"])
                self._topic({"chat_id": chat_id, "message_thread_id": thread})
                record["message_thread_id"] = thread
                content |= {"message_thread_id": thread, "is_topic_message": True}
        self._message_id += 1
        record["message_id"] = self._message_id
        self.sent.append(record)
        return {"message_id": self._message_id, "date": DATE, "from": BOT_USER, "chat": chat, **content}


def _json(value: Any) -> Any:
    """Parameters come as Python values in memory and as JSON strings over HTTP."""
    return json.loads(value) if isinstance(value, str) else value


def _check_markup(markup: dict[str, Any] | None) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if len(button.get("callback_data", "").encode()) > 64:
                raise EntityError("BUTTON_DATA_INVALID")


class FakeRequest(BaseRequest):
    """PTB's transport, answered by the fake in memory; PTB's own status handling still runs."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         **_timeouts: Any) -> tuple[int, bytes]:
        url = unquote(url)  # PTB quotes file paths (and the token's colon with them)
        if url.startswith(f"{FILE_URL}{TOKEN}/"):
            return self.api.download(url.removeprefix(f"{FILE_URL}{TOKEN}/"))
        if not url.startswith(f"{BASE_URL}{TOKEN}/"):
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        name = url.rsplit("/", 1)[1]
        params = dict(request_data.parameters) if request_data else {}
        files = {}
        if request_data is not None and request_data.contains_files:
            files = {key: (value[0], value[1]) for key, value in request_data.multipart_data.items()}
        if name == "getUpdates":
            await self.api.wait_for_updates(float(params.get("timeout") or 0))
        status, body = self.api.call(name, params, files)
        return status, json.dumps(body).encode()


def asgi_app(api: FakeBotApi) -> Starlette:
    """The same fake over HTTP: ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``."""

    async def method(request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        async with request.form() as form:
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    files[key] = (value.filename or key, await value.read())
                else:
                    params[key] = value
        if request.path_params["method"] == "getUpdates":
            # Long polling, cut to half a second at most so a test's shutdown never waits long.
            for _ in range(int(min(float(params.get("timeout") or 0), 0.5) / 0.02)):
                if api.pending_updates:
                    break
                await asyncio.sleep(0.02)
        try:
            status, body = api.call(request.path_params["method"], params, files)
        except ConnectionResetError:
            return Response(status_code=502)
        return JSONResponse(body, status)

    async def download(request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            return Response(status_code=401)
        status, data = api.download(request.path_params["path"])
        return Response(data, status)

    return Starlette(routes=[
        Route("/bot{token}/{method}", method, methods=["POST"]),
        Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
    ])
