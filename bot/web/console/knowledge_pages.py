"""Console knowledge pages: the entries, "try a question" (top hits, scores, decision), the
questions the bot could not answer, and a form that turns one into a new entry file.

Reading is for agents and content managers; writing an entry is for content managers. The
knowledge itself comes from ``services.knowledge`` (the ``KnowledgeRuntime``: ``ask(text, lang)``,
``entries``, ``entry(id)``); without it the pages say so instead of failing.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION, record_action
from bot.web.console.handoff_pages import done
from bot.web.console.pages import render
from bot.web.console.security import require_staff, verify_csrf
from domain import questions
from domain.staff import has_role
from storage.models import HandoffSession, StaffUser, utcnow

router = APIRouter(prefix="/console/knowledge")
READ = require_staff("agent", "content_manager")
EDIT = require_staff("content_manager")
ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
#: Folder inside the knowledge folder where console-written entries go, one file each.
CONSOLE_FOLDER = "console"


@dataclass
class Unanswered:
    """A question the bot could not answer, grouped by its text."""

    question: str
    count: int
    last_at: datetime
    source_key: str


def _from_handoffs(session: Session, since: datetime) -> list[Unanswered]:
    """Questions handed to staff because the bot had no good answer (low confidence, asked twice)."""
    rows = session.scalars(select(HandoffSession).where(
        HandoffSession.created_at >= since, HandoffSession.reason.in_(("low_confidence", "repeat_failure")),
        HandoffSession.question != ""))
    return _grouped(((h.question, h.created_at) for h in rows), "console.knowledge.source.handoff")


def _from_faq_log(session: Session, since: datetime) -> list[Unanswered]:
    """Questions the FAQ declined (or "none of these") that still wait for a staff answer."""
    return _grouped(((q.text, q.created_at) for q in questions.unanswered(session, limit=10_000) if q.created_at >= since),
                    "faq.source.unanswered")


def _grouped(asked: Iterable[tuple[str, datetime]], source_key: str) -> list[Unanswered]:
    """One row per question, however often it was asked (case and spacing ignored)."""
    grouped: dict[str, Unanswered] = {}
    for question, at in asked:
        key = re.sub(r"\s+", " ", question.strip().lower())
        found = grouped.get(key)
        if found is None:
            grouped[key] = Unanswered(question.strip(), 1, at, source_key)
        else:
            found.count += 1
            found.last_at = max(found.last_at, at)
    return list(grouped.values())


#: Where unanswered questions come from, each ``function(session, since) -> list[Unanswered]``.
UNANSWERED_SOURCES: list[Callable[[Session, datetime], list[Unanswered]]] = [_from_handoffs, _from_faq_log]


def entries_of(knowledge: Any) -> list[Any]:
    found = knowledge.entries
    values: Iterable[Any] = found.values() if isinstance(found, Mapping) else found
    return list(values)


def field(entry: Any, name: str, default: Any = None) -> Any:
    return entry.get(name, default) if isinstance(entry, Mapping) else getattr(entry, name, default)


class EntryError(ValueError):
    """A new entry that cannot be written; ``code`` is the i18n suffix of the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def save_entry(knowledge_dir: Path, entry: dict[str, Any], known_ids: set[str]) -> Path:
    """Write one new FAQ entry as its own YAML file under ``<knowledge>/console/``.

    The one place the console writes knowledge: the loader's hot reload picks the file up (and
    ``kb check`` validates it like any other). Written to a temporary file and renamed, so a
    reload never sees half a file.
    """
    entry_id = entry["id"]
    if not ENTRY_ID.match(entry_id):
        raise EntryError("bad_id")
    if not entry["question"].strip() or not entry["answer"].strip():
        raise EntryError("missing")
    folder = knowledge_dir / CONSOLE_FOLDER
    path = folder / f"{entry_id}.yaml"
    if entry_id in known_ids or path.exists():
        raise EntryError("duplicate_id")
    folder.mkdir(parents=True, exist_ok=True)
    _write_yaml(path, {"entries": [{key: value for key, value in entry.items() if value not in (None, "", [])}]})
    return path


def _write_yaml(path: Path, document: Any) -> None:
    """Write a knowledge file whole: a temporary file beside it, then renamed over it."""
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".new-", suffix=".yaml")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)


def add_alternate(knowledge_dir: Path, entry: Any, text: str) -> Path:
    """Add a phrasing to an existing entry, in the YAML file it is defined in (rewritten whole, so
    comments in it are not kept); the hot reload picks the change up."""
    text = text.strip()
    path = Path(field(entry, "source", "") or "")
    if not text:
        raise EntryError("missing")
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        raise EntryError("not_yaml")
    if not path.resolve().is_relative_to(Path(knowledge_dir).resolve()):
        raise EntryError("outside")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = document.get("entries", []) if isinstance(document, dict) else document
    entry_id = field(entry, "id")
    found = next((item for item in items or [] if isinstance(item, dict) and item.get("id") == entry_id), None)
    if found is None:
        raise EntryError("not_found")
    if text not in [found.get("question"), *(found.get("alternates") or [])]:
        found["alternates"] = [*(found.get("alternates") or []), text]
        _write_yaml(path, document)
    return path


def _knowledge(request: Request) -> Any:
    return request.app.state.services.knowledge


@router.get("", response_class=HTMLResponse)
def entries_page(request: Request, q: str = "", saved: str | None = None, user: StaffUser = Depends(READ)) -> HTMLResponse:
    knowledge = _knowledge(request)
    entries = entries_of(knowledge) if knowledge is not None else []
    if q:
        needle = q.strip().lower()
        entries = [e for e in entries if needle in " ".join(
            [str(field(e, "id", "")), str(field(e, "question", "")), *map(str, field(e, "alternates", []) or [])]
        ).lower()]
    return render(request, "console/knowledge.html", {
        "loaded": knowledge is not None, "entries": entries[:500], "total": len(entries), "q": q, "saved": saved,
        "may_edit": has_role(user.role, "content_manager"), "field": field,
    })


@router.get("/try", response_class=HTMLResponse)
def try_page(request: Request, q: str = "", lang: str = "", labelled: str = "", label_error: str = "",
             user: StaffUser = Depends(READ)) -> HTMLResponse:
    knowledge = _knowledge(request)
    answer = None
    if knowledge is not None and q.strip():
        answer = knowledge.ask(q.strip(), lang=lang if lang in ("zh", "en") else None)
    return render(request, "console/knowledge_try.html", {
        "loaded": knowledge is not None, "q": q, "ask_lang": lang, "answer": answer, "labelled": labelled,
        "label_error": label_error, "may_edit": has_role(user.role, "content_manager")})


@router.get("/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(entry_id: str, request: Request, user: StaffUser = Depends(READ)) -> HTMLResponse:
    knowledge = _knowledge(request)
    entry = knowledge.entry(entry_id) if knowledge is not None else None
    if entry is None:
        raise HTTPException(404, "no such entry")
    return render(request, "console/knowledge_entry.html", {"entry": entry, "field": field})


@router.get("/unanswered", response_class=HTMLResponse)
def unanswered_page(request: Request, days: int = 30, answered: int | None = None, error: str = "",
                    user: StaffUser = Depends(READ), session: Session = DB_SESSION) -> HTMLResponse:
    since = utcnow() - timedelta(days=max(1, min(days, 365)))
    found = [item for source in UNANSWERED_SOURCES for item in source(session, since)]
    found.sort(key=lambda u: (-u.count, -u.last_at.timestamp()))
    knowledge = _knowledge(request)
    return render(request, "console/knowledge_unanswered.html", {
        "items": found, "days": days, "may_edit": has_role(user.role, "content_manager"), "answered": answered,
        "error": error, "entries": entries_of(knowledge)[:500] if knowledge is not None else []})


@router.get("/new", response_class=HTMLResponse)
def new_entry_page(request: Request, question: str = "", user: StaffUser = Depends(EDIT)) -> HTMLResponse:
    return render(request, "console/knowledge_new.html", {
        "loaded": _knowledge(request) is not None, "error": None,
        "form": {"id": "", "question": question, "alternates": "", "answer": "", "lang": "zh", "tags": ""}})


@router.post("/new", dependencies=[Depends(verify_csrf)])
def new_entry(request: Request, id: str = Form(""), question: str = Form(""), alternates: str = Form(""),
              answer: str = Form(""), lang: str = Form("zh"), tags: str = Form(""),
              user: StaffUser = Depends(EDIT), session: Session = DB_SESSION) -> Response:
    knowledge = _knowledge(request)
    form = {"id": id.strip(), "question": question.strip(), "alternates": alternates, "answer": answer.strip(),
            "lang": lang if lang in ("zh", "en") else "zh", "tags": tags}
    entry = {
        "id": form["id"], "question": form["question"],
        "alternates": [line.strip() for line in alternates.splitlines() if line.strip()],
        "answer": form["answer"], "lang": form["lang"],
        "tags": [tag.strip() for tag in re.split(r"[,，]", tags) if tag.strip()],
    }
    known = {str(field(e, "id")) for e in entries_of(knowledge)} if knowledge is not None else set()
    try:
        save_entry(request.app.state.services.settings.knowledge_dir, entry, known)
    except EntryError as exc:
        return render(request, "console/knowledge_new.html", {"loaded": knowledge is not None, "form": form,
                                                              "error": exc.code}, status_code=400)
    record_action(request, session, "knowledge.entry_created", f"knowledge:{entry['id']}",
                  {"question": entry["question"], "lang": entry["lang"]})
    questions.answer_open_questions(session, request.app.state.services.events, [entry["question"], *entry["alternates"]], entry["answer"], user.id, entry["id"])
    return done(f"/console/knowledge?saved={form['id']}")
