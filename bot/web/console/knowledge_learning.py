"""Console knowledge pages that learn from the desk's traffic: suggested alternates (questions that
reached an entry through a customer's click or a staff label, to accept into the entry's file) and
suggested new entries (the questions still waiting for an answer, grouped by meaning), and the
"try a question" correction that labels a question with the entry that answers it.

For content managers (admins count as every role). Labels come from ``domain.labels``; an accepted
alternate is written with ``knowledge_pages.add_alternate`` and the hot reload serves it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.auth import DB_SESSION
from bot.web.console.handoff_pages import done
from bot.web.console.knowledge_pages import EDIT, EntryError, add_alternate
from bot.web.console.pages import render
from bot.web.console.security import verify_csrf
from domain import labels, questions
from storage.models import StaffUser

router = APIRouter(prefix="/console/knowledge")
#: the most recent distinct waiting questions grouped into suggested new entries
MAX_GROUPED = 300
EXAMPLES = 3


@dataclass
class NewEntrySuggestion:
    """Waiting questions that ask the same thing: how often, and a few of them."""

    count: int
    examples: list[str]


def suggested_new_entries(session: Session, knowledge: Any) -> list[NewEntrySuggestion]:
    """The questions waiting for a staff answer (declined, or "none of these"), grouped by meaning."""
    counts: dict[str, tuple[str, int]] = {}
    for q in reversed(questions.unanswered(session, limit=10_000)):  # newest first
        key = questions.wording(q.text)
        if key and (key in counts or len(counts) < MAX_GROUPED):
            text, n = counts.get(key, (q.text.strip(), 0))
            counts[key] = (text, n + 1)
    distinct = list(counts.values())
    groups = knowledge.group_questions([text for text, _ in distinct])
    found = [
        NewEntrySuggestion(
            sum(distinct[i][1] for i in g),
            [distinct[i][0] for i in sorted(g, key=lambda i: -distinct[i][1])][:EXAMPLES],
        )
        for g in groups
    ]
    return sorted(found, key=lambda s: -s.count)


def _phrasings(knowledge: Any):
    def of(entry_id: str) -> tuple[str, ...] | None:
        entry = knowledge.entry(entry_id)
        return None if entry is None else tuple(entry.phrasings)

    return of


@router.get("/suggestions", response_class=HTMLResponse)
def suggestions_page(
    request: Request,
    error: str | None = None,
    accepted: str | None = None,
    user: StaffUser = Depends(EDIT),
    session: Session = DB_SESSION,
) -> HTMLResponse:
    knowledge = request.app.state.services.knowledge
    alternates = new_entries = []
    if knowledge is not None:
        alternates = labels.suggested_alternates(labels.desk_labels(session), _phrasings(knowledge))
        new_entries = suggested_new_entries(session, knowledge)
    return render(
        request,
        "console/knowledge_suggestions.html",
        {
            "loaded": knowledge is not None,
            "alternates": alternates,
            "new_entries": new_entries,
            "error": error,
            "accepted": accepted,
        },
    )


@router.post("/suggestions/alternate", dependencies=[Depends(verify_csrf)])
def accept_alternate(
    request: Request, entry_id: str = Form(""), text: str = Form(""), user: StaffUser = Depends(EDIT)
) -> Response:
    """Write the suggested question into its entry's file as an alternate."""
    services = request.app.state.services
    entry = services.knowledge.entry(entry_id) if services.knowledge is not None else None
    try:
        if entry is None:
            raise EntryError("not_found")
        add_alternate(services.settings.knowledge_dir, entry, text)
    except EntryError as exc:
        return RedirectResponse(f"/console/knowledge/suggestions?error={exc.code}", status_code=303)
    return done(f"/console/knowledge/suggestions?accepted={entry.id}")


@router.post("/unanswered/answer", dependencies=[Depends(verify_csrf)])
def answer_with_entry(request: Request, question: str = Form(""), entry_id: str = Form(""),
                      user: StaffUser = Depends(EDIT), session: Session = DB_SESSION) -> Response:
    """Answer the waiting questions worded like `question` with an existing entry's answer."""
    services = request.app.state.services
    entry = services.knowledge.entry(entry_id.strip()) if services.knowledge is not None else None
    if entry is None:
        return RedirectResponse("/console/knowledge/unanswered?error=not_found", status_code=303)
    answered = questions.answer_with_entry(session, services.events, question, entry, user.id)
    return done(f"/console/knowledge/unanswered?answered={len(answered)}")


@router.post("/try/label", dependencies=[Depends(verify_csrf)])
def label_try(
    request: Request,
    q: str = Form(""),
    entry_id: str = Form(""),
    lang: str = Form(""),
    user: StaffUser = Depends(EDIT),
    session: Session = DB_SESSION,
) -> Response:
    """A content manager says which entry answers the question tried ("none": no entry does)."""
    knowledge = request.app.state.services.knowledge
    chosen = entry_id.strip()
    back = "/console/knowledge/try?" + urlencode({"q": q, "lang": lang})
    if chosen != "none" and (knowledge is None or knowledge.entry(chosen) is None):
        return RedirectResponse(f"{back}&label_error=not_found", status_code=303)
    try:
        labels.record(session, q, None if chosen == "none" else chosen, "try", user.id)
    except labels.LabelError as exc:
        return RedirectResponse(f"{back}&label_error={exc.code}", status_code=303)
    return done(f"{back}&labelled={chosen}")
