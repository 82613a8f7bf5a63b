"""The web chat: a page at ``/`` and its JSON API (see DESIGN.md, "Conventions").

Replies to a request come back in its response; later messages (notifications, an
agent's words) wait in the outbox and are handed over, and marked sent, when the
page polls ``/api/chat/messages``.
"""
from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select, update

from handlers.i18n import t
from handlers.messages import Incoming, IncomingFile
from storage.models import OutboxItem, utcnow

CHANNEL = "web"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 20_000

router = APIRouter()


class ChatRequest(BaseModel):
    session_id: str
    text: str | None = Field(None, max_length=MAX_TEXT)
    button: str | None = Field(None, max_length=1024)

    @field_validator("session_id")
    @classmethod
    def _session(cls, value: str) -> str:
        if not SESSION_ID.match(value):
            raise ValueError("session_id must be 8-64 letters, digits, '-' or '_'")
        return value


def _check_rate(request: Request, session_id: str) -> None:
    limiter = request.app.state.rate_limiter
    address = request.client.host if request.client else "unknown"
    if not limiter.allow("s:" + session_id) or not limiter.allow("a:" + address, limiter.per_minute * 5):
        raise HTTPException(429, "too many messages; please wait a minute and try again")


def _out(item: OutboxItem) -> dict[str, Any]:
    payload = item.payload
    out: dict[str, Any] = {"id": item.id, "text": payload.get("text", "")}
    if payload.get("buttons"):
        out["buttons"] = [{"label": b["label"], "payload": b["payload"]} for b in payload["buttons"]]
    if payload.get("files"):
        out["files"] = [{"name": f["name"], "url": f.get("url")} for f in payload["files"]]
    return out


def _deliver(request: Request, session_id: str, ids: list[int]) -> list[dict[str, Any]]:
    """Mark the given outbox rows sent (the HTTP response carries them) and render them."""
    if not ids:
        return []
    with request.app.state.services.db.session() as session:
        items = list(session.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids)).order_by(OutboxItem.id)))
        for item in items:
            item.status, item.sent_at, item.attempts = "sent", utcnow(), item.attempts + 1
        return [_out(item) for item in items]


def _handle(request: Request, incoming: Incoming) -> dict[str, Any]:
    result = request.app.state.runtime.engine.handle(incoming)
    return {"replies": _deliver(request, incoming.chat_id, result.outbox_ids)}


@router.post("/api/chat")
def chat(body: ChatRequest, request: Request) -> dict[str, Any]:
    if body.text is None and body.button is None:
        raise HTTPException(400, "send either text or button")
    _check_rate(request, body.session_id)
    return _handle(request, Incoming(channel=CHANNEL, chat_id=body.session_id, user_id=body.session_id,
                                     text=body.text or "", button=body.button or None,
                                     lang_hint=request.query_params.get("lang")))


@router.post("/api/chat/upload")
def upload(request: Request, session_id: str = Form(...), file: UploadFile = File(...),
           text: str = Form("")) -> dict[str, Any]:
    if not SESSION_ID.match(session_id):
        raise HTTPException(400, "session_id must be 8-64 letters, digits, '-' or '_'")
    _check_rate(request, session_id)
    limit = request.app.state.services.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the file is larger than {limit // (1024 * 1024)} MB; please send a smaller one")
    return _handle(request, Incoming(channel=CHANNEL, chat_id=session_id, user_id=session_id, text=text[:MAX_TEXT],
                                     files=[IncomingFile(data=data, name=file.filename,
                                                         declared_mime=file.content_type)]))


@router.get("/api/chat/messages")
def messages(request: Request, session_id: str = Query(...), after: int = Query(0, ge=0)) -> dict[str, Any]:
    if not SESSION_ID.match(session_id):
        raise HTTPException(400, "session_id must be 8-64 letters, digits, '-' or '_'")
    with request.app.state.services.db.session() as session:
        items = list(session.scalars(
            select(OutboxItem)
            .where(OutboxItem.channel == CHANNEL, OutboxItem.chat_id == session_id, OutboxItem.id > after,
                   OutboxItem.status.in_(("pending", "sent")))
            .order_by(OutboxItem.id).limit(100)
        ))
        pending = [i.id for i in items if i.status == "pending"]
        if pending:
            session.execute(update(OutboxItem).where(OutboxItem.id.in_(pending))
                            .values(status="sent", sent_at=utcnow()))
        return {"messages": [_out(i) for i in items]}


@router.get("/", response_class=HTMLResponse)
def page(request: Request, lang: str | None = None) -> HTMLResponse:
    settings = request.app.state.services.settings
    language = lang if lang in ("zh", "en") else settings.default_language
    texts = {key: t(f"webchat.{key}", language) for key in ("title", "placeholder", "send", "upload", "offline")}
    return request.app.state.templates.TemplateResponse(
        request, "chat.html", {"lang": language, "texts": texts}
    )
