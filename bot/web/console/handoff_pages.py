"""Console pages for agents: the queue and my conversations (live), one conversation with its
transcript, customer, notes and reply box, and the canned replies.

Live updates are plain polling of two small JSON endpoints (``/console/api/queue`` and
``/console/api/conversations/{id}/messages``): no build step, works behind any proxy.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from anyio import from_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.api_schema import PathId
from bot.web.console.pages import console_lang, customer_label, render
from bot.web.console.security import require_staff, verify_csrf
from bot.web.limits import INT_MAX
from domain import applications, complaints, handoff, labels
from domain.staff import has_role
from handlers.i18n import t
from storage.models import Attachment, CannedReply, Conversation, Customer, HandoffSession, Message, StaffUser, utcnow

router = APIRouter(prefix="/console")
AGENT = require_staff("agent")


@dataclass
class Panel:
    """A block about the customer on the conversation page: a title key and rows of
    (label, value, link); a label may be a datetime, shown in the staff's time zone."""

    title_key: str
    rows: list[tuple[str | datetime, str, str | None]]


#: Blocks about the customer on the conversation page, each ``function(session, customer, lang) -> Panel``.
CUSTOMER_PANELS: list[Callable[[Session, Customer, str], Panel]] = []


def _earlier_handoffs(session: Session, customer: Customer, lang: str) -> Panel:
    rows = session.scalars(select(HandoffSession).where(HandoffSession.customer_id == customer.id)
                           .order_by(HandoffSession.id.desc()).limit(10))
    return Panel("console.handoff.panel.handoffs", [
        (h.created_at, f"{t('console.handoff.reason.' + h.reason, lang)} · "
         f"{t('console.handoff.status.' + h.status, lang)}", f"/console/conversations/{h.conversation_id}")
        for h in rows
    ])


def _complaints(session: Session, customer: Customer, lang: str) -> Panel:
    return Panel("console.handoff.panel.complaints", [
        (c.ticket, f"{t('complaint.category.' + c.category, lang)} · {t('complaint.console.status.' + c.status, lang)}",
         f"/console/complaints/{c.ticket}")
        for c in complaints.customer_complaints(session, customer)
    ])


def _applications(session: Session, customer: Customer, lang: str) -> Panel:
    return Panel("console.handoff.panel.applications", [
        (a.reference or "", f"{a.service_name.get(lang) or a.service_id} · {t('application.stage.' + a.stage, lang)}",
         f"/console/applications/{a.reference}")
        for a in applications.customer_applications(session, customer)[:10]
    ])


CUSTOMER_PANELS.extend([_earlier_handoffs, _applications, _complaints])


def _item(session: Session, h: HandoffSession, lang: str, agents: dict[int, StaffUser]) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": h.id, "conversation_id": h.conversation_id, "url": f"/console/conversations/{h.conversation_id}",
        "customer": customer_label(session, h.customer, lang), "channel": h.customer.channel,
        "reason": t("console.handoff.reason." + h.reason, lang), "question": h.question[:160],
        "status": h.status, "after_hours": h.after_hours,
        "waiting_s": max(0, int((now - h.clock_start).total_seconds())),
        "awaiting_s": int((now - h.awaiting_since).total_seconds()) if h.awaiting_since else None,
        "agent": agents[h.agent_id].display_name if h.agent_id in agents else None,
    }


def agent_load(session: Session) -> list[dict[str, Any]]:
    """What a supervisor watches: each agent's open conversations, on duty first."""
    loads = handoff.agent_loads(session)
    agents = [u for u in session.scalars(select(StaffUser).order_by(StaffUser.display_name)) if handoff.agent_capable(u)]
    return [{"agent_id": u.id, "agent": u.display_name, "on_duty": u.on_duty, "open": loads.get(u.id, 0)}
            for u in sorted(agents, key=lambda u: not u.on_duty)]


def queue_state(session: Session, user: StaffUser, lang: str) -> dict[str, Any]:
    agents = {u.id: u for u in session.scalars(select(StaffUser))}
    others: list[dict[str, Any]] = []
    load: list[dict[str, Any]] = []
    if has_role(user.role, "supervisor"):
        others = [_item(session, h, lang, agents) for h in session.scalars(
            select(HandoffSession).where(HandoffSession.status == "active", HandoffSession.agent_id != user.id)
            .order_by(HandoffSession.claimed_at))]
        load = agent_load(session)
    return {
        "load": load,
        "waiting": [_item(session, h, lang, agents) for h in handoff.waiting(session)],
        "mine": [_item(session, h, lang, agents) for h in handoff.owned_by(session, user.id)],
        "others": others,
        "on_duty": user.on_duty,
        "agents_on_duty": len(handoff.on_duty_agents(session)),
    }


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, user: StaffUser = Depends(AGENT),
               session: Session = DB_SESSION) -> HTMLResponse:
    settings = request.app.state.services.settings
    limit = settings.handoff_agent_limit if settings.handoff_auto_assign else None
    return render(request, "console/queue.html", {"state": queue_state(session, user, console_lang(request)),
                                                 "agent_limit": limit})


@router.get("/api/queue")
def queue_api(request: Request, user: StaffUser = Depends(AGENT),
              session: Session = DB_SESSION) -> dict[str, Any]:
    return queue_state(session, user, console_lang(request))


def done(target: str) -> Response:
    """Back to ``target``; the request's transaction (``DB_SESSION``) commits and wakes the outbox
    sender before this redirect is sent."""
    return RedirectResponse(target, status_code=303)


@router.post("/duty", dependencies=[Depends(verify_csrf)])
def toggle_duty(request: Request, on: str = Form(...), user: StaffUser = Depends(AGENT),
                session: Session = DB_SESSION) -> Response:
    handoff.set_on_duty(session, request.app.state.services, user, on == "1")
    return done("/console/queue")


def _transcript_item(m: Message, staff: dict[int, StaffUser], files: dict[int, Attachment],
                     zone: tzinfo) -> dict[str, Any]:
    payload = m.payload or {}
    # the customer's files, and the stored files an agent sent (from the console or the staff room)
    shown = payload.get("attachments", []) + [f["attachment_id"] for f in payload.get("files", [])
                                              if f.get("attachment_id")]
    return {"id": m.id, "sender": m.sender, "text": m.text, "button": m.button,
            "at": m.created_at.astimezone(zone).strftime("%m-%d %H:%M"),
            "staff": staff[m.staff_id].display_name if m.staff_id in staff else None,
            "buttons": [b["label"] for b in payload.get("buttons", [])],
            "files": [{"name": files[i].original_name or files[i].mime,
                       "url": f"/console/conversations/{m.conversation_id}/attachments/{i}",
                       "audio": files[i].mime in PLAYABLE_MIME}
                      for i in shown if i in files]}


def _messages(request: Request, session: Session, conversation_id: int, after: int = 0,
              limit: int = 500) -> list[dict[str, Any]]:
    """The transcript (the newest ``limit``), times in the staff's time zone."""
    zone = request.app.state.services.settings.working_hours.zone
    staff = {u.id: u for u in session.scalars(select(StaffUser))}
    rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id, Message.id > after)
                           .order_by(Message.id.desc()).limit(limit))
    files = {a.id: a for a in session.scalars(select(Attachment).where(Attachment.conversation_id == conversation_id))}
    return [_transcript_item(m, staff, files, zone) for m in reversed(list(rows))]


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(conversation_id: PathId, request: Request, error: str | None = None,
                      user: StaffUser = Depends(AGENT), session: Session = DB_SESSION) -> HTMLResponse:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, "no such conversation")
    lang = console_lang(request)
    current = handoff.open_handoff(session, conversation_id)
    targets = [u for u in session.scalars(select(StaffUser).order_by(StaffUser.on_duty.desc(), StaffUser.display_name))
               if handoff.agent_capable(u) and (current is None or u.id != current.agent_id)]
    agents = {u.id: u for u in session.scalars(select(StaffUser))}
    return render(request, "console/conversation.html", {
        "conversation": conversation, "customer": conversation.customer, "handoff": current,
        "customer_name": customer_label(session, conversation.customer, lang),
        "handoff_item": _item(session, current, lang, agents) if current else None,
        "mine": current is not None and current.status == "active" and (
            current.agent_id == user.id or has_role(user.role, "supervisor")),
        "messages": _messages(request, session, conversation_id), "notes": handoff.notes(session, conversation_id),
        "note_authors": agents, "canned": handoff.canned_replies(session, conversation.language),
        "targets": targets, "panels": [panel(session, conversation.customer, lang) for panel in CUSTOMER_PANELS],
        "entries": _entries(request.app.state.services.knowledge),
        "error": error,
    })


def _entries(knowledge: Any) -> list[Any]:
    """The knowledge entries an agent may send the answer of (first 500, for the picker)."""
    return list(knowledge.entries)[:500] if knowledge is not None else []


@router.get("/api/conversations/{conversation_id}/messages")
def conversation_messages(conversation_id: PathId, request: Request, after: int = Query(0, ge=0, le=INT_MAX),
                          user: StaffUser = Depends(AGENT), session: Session = DB_SESSION) -> dict[str, Any]:
    current = handoff.open_handoff(session, conversation_id)
    return {"messages": _messages(request, session, conversation_id, after),
            "status": current.status if current else "closed",
            "agent_id": current.agent_id if current else None}


#: Voice messages the console plays in the transcript (a browser plays no AMR: WeCom's is a download).
PLAYABLE_MIME = {"audio/ogg", "audio/mpeg", "audio/x-wav", "video/webm"}
#: Shown in the browser; anything else is downloaded, so a crafted file never runs as a page.
INLINE_MIME = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"} | PLAYABLE_MIME


@router.get("/conversations/{conversation_id}/attachments/{attachment_id}")
def attachment(conversation_id: PathId, attachment_id: PathId, request: Request, user: StaffUser = Depends(AGENT),
               session: Session = DB_SESSION) -> Response:
    """A file the customer sent in this conversation."""
    found = session.get(Attachment, attachment_id)
    if found is None or found.conversation_id != conversation_id:
        raise HTTPException(404, "no such file in this conversation")
    path = request.app.state.services.attachments.path_for(found.sha256)
    if not path.exists():
        raise HTTPException(410, "the file is no longer stored")
    disposition = "inline" if found.mime in INLINE_MIME else "attachment"
    return FileResponse(path, media_type=found.mime, filename=found.original_name or f"file-{found.id}",
                        content_disposition_type=disposition, headers={"X-Content-Type-Options": "nosniff"})


def _conversation_of(session: Session, handoff_id: int) -> int:
    found = session.scalar(select(HandoffSession.conversation_id).where(HandoffSession.id == handoff_id))
    if found is None:
        raise HTTPException(404, "no such handoff")
    return found


def send_entry_answer(session: Session, services: Any, handoff_id: int, user: StaffUser, entry_id: str) -> None:
    """The agent sends a knowledge entry's answer, in the customer's language; the customer's question is
    labelled as answered by that entry (domain/labels.py), for `kb learn`."""
    knowledge = services.knowledge
    found = knowledge.entry(entry_id.strip()) if knowledge is not None else None
    if found is None:
        raise handoff.HandoffError("no_entry")
    current = session.get(HandoffSession, handoff_id)
    if current is None:
        raise handoff.HandoffError("not_found")
    handoff.reply(session, services, handoff_id, user, knowledge.answer_text(found, current.conversation.language))
    labels.record_handoff_answer(session, current, found.id, user.id)


@router.post("/handoffs/{handoff_id}/{action}", dependencies=[Depends(verify_csrf)])
def handoff_action(handoff_id: PathId, action: str, request: Request, text: str = Form(""),
                   to: int = Form(0, ge=0, le=INT_MAX), entry: str = Form("", max_length=200),
                   user: StaffUser = Depends(AGENT), session: Session = DB_SESSION) -> Response:
    services = request.app.state.services
    actions: dict[str, Callable[[], object]] = {
        "claim": lambda: handoff.claim(session, services, handoff_id, user),
        "reply": lambda: handoff.reply(session, services, handoff_id, user, text),
        "handback": lambda: handoff.hand_back(session, services, handoff_id, user),
        "close": lambda: handoff.close(session, services, handoff_id, user),
        "release": lambda: handoff.release(session, services, handoff_id, user),
        "transfer": lambda: handoff.transfer(session, services, handoff_id, user, to),
        "entry": lambda: send_entry_answer(session, services, handoff_id, user, entry),
    }
    if action not in actions:
        raise HTTPException(404, "no such action")
    target = f"/console/conversations/{_conversation_of(session, handoff_id)}"
    try:
        actions[action]()
    except handoff.HandoffError as exc:
        return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
    return done(target)


@router.post("/api/handoffs/{handoff_id}/typing", dependencies=[Depends(verify_csrf)])
def agent_typing(handoff_id: PathId, request: Request, user: StaffUser = Depends(AGENT),
                 session: Session = DB_SESSION) -> dict[str, bool]:
    """The agent types a reply (the page calls this every few seconds while they do). The
    platform's "typing" is sent here, before this transaction releases the conversation's lock,
    so a reply committed at the same moment always reaches the customer after it."""
    conversation = handoff.agent_typing(session, handoff_id, user)
    if conversation is None:
        return {"shown": False}
    channel = request.app.state.runtime.channels.get(conversation.channel)
    if channel is not None:
        from_thread.run(channel.show_typing, conversation.chat_id)
    return {"shown": True}


@router.post("/conversations/{conversation_id}/notes", dependencies=[Depends(verify_csrf)])
def add_note(conversation_id: PathId, request: Request, text: str = Form(...), user: StaffUser = Depends(AGENT),
             session: Session = DB_SESSION) -> Response:
    if session.get(Conversation, conversation_id) is None:
        raise HTTPException(404, "no such conversation")
    target = f"/console/conversations/{conversation_id}"
    try:
        handoff.add_note(session, conversation_id, user, text)
    except handoff.HandoffError as exc:
        return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
    return done(target)


@router.get("/canned", response_class=HTMLResponse)
def canned_page(request: Request, error: str | None = None, user: StaffUser = Depends(AGENT),
                session: Session = DB_SESSION) -> HTMLResponse:
    return render(request, "console/canned.html", {"canned": handoff.canned_replies(session), "error": error,
                                                   "may_edit": has_role(user.role, "supervisor")})


@router.post("/canned", dependencies=[Depends(verify_csrf)])
def canned_add(request: Request, title: str = Form(...), text: str = Form(...), language: str = Form(""),
               user: StaffUser = Depends(require_staff("supervisor")),
               session: Session = DB_SESSION) -> Response:
    try:
        handoff.add_canned(session, user, title, text, language or None)
    except handoff.HandoffError:
        return RedirectResponse("/console/canned?error=empty", status_code=303)
    return done("/console/canned")


@router.post("/canned/{canned_id}/delete", dependencies=[Depends(verify_csrf)])
def canned_delete(canned_id: PathId, request: Request, user: StaffUser = Depends(require_staff("supervisor")),
                  session: Session = DB_SESSION) -> Response:
    row = session.get(CannedReply, canned_id)
    if row is not None:
        session.delete(row)
    return done("/console/canned")
