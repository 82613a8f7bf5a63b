"""The web chat's routes: a page at ``/`` and its JSON API (see DESIGN.md, "Conventions").

The channel itself (requests into ``Incoming``, outbox rows into JSON) is bot/channels/web.py.
Replies to a request come back in its response; later messages (notifications, an
agent's words) wait in the outbox and are handed over, and marked sent, when the
page polls ``/api/chat/messages``; a stored file an agent sent is fetched from
``/api/chat/files/{id}?session_id=S``.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from bot.auth import client_address
from bot.channels.registry import build_channels
from bot.channels.web import CHANNEL, WebChatChannel
from bot.web.console.handoff_pages import INLINE_MIME
from bot.web.limits import INT_MAX
from domain.handoff import is_agent_typing
from handlers.i18n import t
from handlers.messages import Incoming, IncomingFile, VoiceMessage
from storage.models import Attachment, Conversation

#: The page makes 32 hex digits from crypto.getRandomValues (128 bits); 32 characters of this alphabet
#: hold at least that much, and an id with fewer than 6 different characters was not drawn at random.
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
SESSION_ID_MIN_DISTINCT = 6
SESSION_ID_RULE = ("session_id must be 32-128 random letters, digits, '-' or '_' "
                   "(at least 128 bits; the chat page makes one)")
MAX_TEXT = 20_000
LANGUAGES = ("zh", "en")

router = APIRouter()


class ChatRequest(BaseModel):
    session_id: str
    text: str | None = Field(None, max_length=MAX_TEXT)
    button: str | None = Field(None, max_length=1024)


def require_session_id(session_id: str) -> None:
    """Refuse a short or guessable session id (400): a customer's conversation is only as private as its id."""
    if not SESSION_ID.match(session_id) or len(set(session_id)) < SESSION_ID_MIN_DISTINCT:
        raise HTTPException(400, SESSION_ID_RULE)


def _check_rate(request: Request, session_id: str) -> None:
    limiter = request.app.state.rate_limiter
    if not limiter.allow("s:" + session_id) or not limiter.allow("a:" + client_address(request),
                                                               limiter.per_minute * 5):
        raise HTTPException(429, "too many messages; please wait a minute and try again")


def _channel(request: Request) -> WebChatChannel:
    """The web chat channel, built from the registry once per app."""
    state = request.app.state
    if getattr(state, "webchat", None) is None:
        state.webchat = build_channels(state.services.settings, state.services, [CHANNEL])[CHANNEL]
    channel: WebChatChannel = state.webchat
    return channel


def _handle(request: Request, incoming: Incoming) -> dict[str, Any]:
    result = request.app.state.runtime.engine.handle(incoming)
    return {"replies": _channel(request).hand_over(result.outbox_ids)}


@router.post("/api/chat")
def chat(body: ChatRequest, request: Request) -> dict[str, Any]:
    if body.text is None and body.button is None:
        raise HTTPException(400, "send either text or button")
    require_session_id(body.session_id)
    _check_rate(request, body.session_id)
    return _handle(request, WebChatChannel.message(body.session_id, body.text or "", body.button or None,
                                                   request.query_params.get("lang"), address=client_address(request)))


def _received(request: Request, session_id: str, file: UploadFile) -> IncomingFile:
    """The uploaded file of a checked session, refused (413) past the upload limit."""
    require_session_id(session_id)
    _check_rate(request, session_id)
    limit = request.app.state.services.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the file is larger than {limit // (1024 * 1024)} MB; please send a smaller one")
    return IncomingFile(data=data, name=file.filename, declared_mime=file.content_type)


@router.post("/api/chat/upload")
def upload(request: Request, session_id: str = Form(...), file: UploadFile = File(...),
           text: str = Form("")) -> dict[str, Any]:
    received = _received(request, session_id, file)
    return _handle(request, WebChatChannel.message(session_id, text[:MAX_TEXT], files=[received],
                                                   address=client_address(request)))


@router.post("/api/chat/voice")
def voice(request: Request, session_id: str = Form(...), file: UploadFile = File(...)) -> dict[str, Any]:
    """A recording from the page's microphone button (WebM/Opus, OGG or WAV): answered like the words
    in it, the first reply saying what was heard."""
    received = _received(request, session_id, file)
    return _handle(request, WebChatChannel.message(session_id, voice=VoiceMessage(received),
                                                   lang=request.query_params.get("lang"),
                                                   address=client_address(request)))


@router.get("/api/chat/messages")
def messages(request: Request, session_id: str = Query(...), after: int = Query(0, ge=0, le=INT_MAX)) -> dict[str, Any]:
    require_session_id(session_id)
    return {"messages": _channel(request).since(session_id, after), "typing": _agent_typing(request, session_id)}


@router.get("/api/chat/files/{attachment_id}")
def chat_file(attachment_id: int, request: Request, session_id: str = Query(...)) -> Response:
    """A stored file sent to this chat (an agent's photo or document): only to the chat's own
    session id, which is as secret as the conversation itself."""
    require_session_id(session_id)
    services = request.app.state.services
    with services.db.session() as session:
        found = session.get(Attachment, attachment_id) if attachment_id <= INT_MAX else None
        conversation = session.get(Conversation, found.conversation_id) if found and found.conversation_id else None
        if conversation is None or (conversation.channel, conversation.chat_id) != (CHANNEL, session_id):
            raise HTTPException(404, "no such file in this chat")
        path, mime, name = services.attachments.path_for(found.sha256), found.mime, found.original_name
    if not path.exists():
        raise HTTPException(410, "the file is no longer stored")
    disposition = "inline" if mime in INLINE_MIME else "attachment"
    return FileResponse(path, media_type=mime, filename=name or f"file-{attachment_id}",
                        content_disposition_type=disposition, headers={"X-Content-Type-Options": "nosniff"})


def _agent_typing(request: Request, session_id: str) -> bool:
    """An agent is writing to this chat (the page shows "正在输入"); false once the reply is queued."""
    with request.app.state.services.db.session() as session:
        conversation_id = session.scalar(select(Conversation.id).where(Conversation.channel == CHANNEL,
                                                                       Conversation.chat_id == session_id))
        return conversation_id is not None and is_agent_typing(session, conversation_id)


def browser_language(accept_language: str) -> str | None:
    """The first of zh and en in the browser's Accept-Language list, by preference."""
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            ranked.append((-float(weight), position, tag.strip().lower().split("-")[0]))
        except ValueError:
            continue
    return next((tag for _, _, tag in sorted(ranked) if tag in LANGUAGES), None)


@router.get("/", response_class=HTMLResponse)
def page(request: Request, lang: str | None = None) -> HTMLResponse:
    """The chat page in ``?lang=`` if given, else the browser's language, else the desk's default."""
    settings = request.app.state.services.settings
    language = (lang if lang in LANGUAGES else None) or browser_language(
        request.headers.get("accept-language", "")) or settings.default_language
    texts = {key: t(f"webchat.{key}", language)
             for key in ("title", "placeholder", "send", "upload", "offline", "typing", "record", "recording",
                         "no_microphone")}
    return request.app.state.templates.TemplateResponse(
        request, "chat.html", {"lang": language, "texts": texts}
    )
