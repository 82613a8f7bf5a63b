"""What the desk's own traffic says about the knowledge's answers: one list of labels ("this
question is answered by that entry", "by no entry", "not by that entry") for `kb learn` and the
console's suggested alternates.

Where each label comes from (nothing is stored twice):

- ``pick``: a customer pressed a "did you mean" button (``knowledge_questions.chosen_entry_id``);
- ``helpful`` / ``not_helpful``: a customer's vote on an FAQ answer (``ratings``, kind ``helpful``,
  with the question it answered);
- ``staff_answer``: staff answered a recorded question with an entry
  (``knowledge_questions.chosen_entry_id`` of an answered question);
- ``try``: a content manager corrected the console's "try a question" (``knowledge_labels``);
- ``handoff``: an agent sent an entry's answer during a handoff (``knowledge_labels``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.questions import wording
from storage.models import HandoffSession, KnowledgeLabel, KnowledgeQuestion, Message, Rating

#: where a label stored in ``knowledge_labels`` comes from
STORED_SOURCES = ("try", "handoff")
SOURCES = ("pick", "helpful", "not_helpful", "staff_answer", *STORED_SOURCES)
MAX_TEXT = 2000


@dataclass(frozen=True)
class Label:
    """One labelled question. ``entry_id`` None: no entry answers it; ``fits`` False: that entry does
    not answer it (and which one does is not known). ``who``: ``customer:<id>`` or ``staff:<id>``."""

    text: str
    entry_id: str | None
    fits: bool
    source: str
    who: str
    at: datetime
    question_id: int | None = None


class LabelError(ValueError):
    """A label that cannot be stored; ``code`` is the i18n suffix of the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def record(
    session: Session, text: str, entry_id: str | None, source: str, staff_id: int | None, customer_id: int | None = None
) -> KnowledgeLabel:
    """Store a staff label: `text` is answered by `entry_id` (None: by no entry of the knowledge);
    `customer_id`: the customer whose words `text` is, if it is a customer's."""
    if source not in STORED_SOURCES:
        raise LabelError("bad_source")
    text = (text or "").strip()
    if not text:
        raise LabelError("empty")
    label = KnowledgeLabel(
        text=text[:MAX_TEXT], entry_id=entry_id or None, source=source, staff_id=staff_id, customer_id=customer_id
    )
    session.add(label)
    session.flush()
    return label


def handoff_question(session: Session, handoff: HandoffSession) -> str:
    """What the customer asked in a handoff: the question it was opened with, else their last message."""
    if handoff.question.strip():
        return handoff.question
    last = session.scalar(
        select(Message.text)
        .where(Message.conversation_id == handoff.conversation_id, Message.sender == "customer", Message.text != "")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return last or ""


def record_handoff_answer(session: Session, handoff: HandoffSession, entry_id: str, staff_id: int) -> None:
    """An agent sent an entry's answer during a handoff: the customer's question is answered by that entry
    (nothing is recorded when the customer has not written anything)."""
    text = handoff_question(session, handoff)
    if text.strip():
        record(session, text, entry_id, "handoff", staff_id, handoff.customer_id)


def _chosen(session: Session) -> list[Label]:
    rows = session.scalars(select(KnowledgeQuestion).where(KnowledgeQuestion.chosen_entry_id.is_not(None)))
    out = []
    for q in rows:
        if q.status == "answered":
            who, at, source = f"staff:{q.answered_by}", q.answered_at or q.created_at, "staff_answer"
        else:
            who, at, source = f"customer:{q.customer_id}", q.created_at, "pick"
        out.append(Label(q.text, q.chosen_entry_id, True, source, who, at, q.id))
    return out


def _votes(session: Session) -> list[Label]:
    rows = session.execute(
        select(Rating, KnowledgeQuestion.text)
        .join(KnowledgeQuestion, KnowledgeQuestion.id == Rating.question_log_id)
        .where(Rating.kind == "helpful", Rating.helpful.is_not(None), Rating.entry_id.is_not(None))
    )
    return [
        Label(
            text,
            r.entry_id,
            bool(r.helpful),
            "helpful" if r.helpful else "not_helpful",
            f"customer:{r.customer_id}",
            r.rated_at or r.created_at,
            r.question_log_id,
        )
        for r, text in rows
    ]


def _stored(session: Session) -> list[Label]:
    rows = session.scalars(select(KnowledgeLabel))
    return [Label(r.text, r.entry_id, True, r.source, f"staff:{r.staff_id}", r.created_at) for r in rows]


def desk_labels(session: Session) -> list[Label]:
    """Every label of the desk's traffic, oldest first. One verdict per question and entry: the same
    verdict again counts once (the first is kept), a changed one (a pick, then "not helpful") replaces it."""
    latest: dict[tuple, Label] = {}
    for label in sorted(_chosen(session) + _votes(session) + _stored(session), key=lambda x: x.at):
        key = (label.question_id if label.question_id is not None else label.text, label.entry_id)
        if key not in latest or latest[key].fits != label.fits:
            latest[key] = label
    return sorted(latest.values(), key=lambda x: x.at)


#: labels that say a question reached its entry by a customer's click or a staff member's word
ALTERNATE_SOURCES = ("pick", "staff_answer", "try", "handoff")


@dataclass
class AlternateSuggestion:
    """A question worded unlike any phrasing of the entry it reached: a candidate alternate."""

    entry_id: str
    text: str
    count: int
    last_at: datetime
    sources: list[str]


def suggested_alternates(
    labels: list[Label], phrasings: Callable[[str], tuple[str, ...] | None]
) -> list[AlternateSuggestion]:
    """The labelled questions that could be alternates of their entry, most often labelled first.
    `phrasings(entry_id)`: the entry's question and alternates, None for an entry no longer there."""
    found: dict[tuple[str, str], AlternateSuggestion] = {}
    for label in labels:
        if label.source not in ALTERNATE_SOURCES or not label.fits or label.entry_id is None:
            continue
        known = phrasings(label.entry_id)
        key = (label.entry_id, wording(label.text))
        if known is None or not key[1] or key[1] in {wording(p) for p in known}:
            continue
        s = found.get(key)
        if s is None:
            found[key] = AlternateSuggestion(label.entry_id, label.text.strip(), 1, label.at, [label.source])
        else:
            s.count, s.last_at = s.count + 1, max(s.last_at, label.at)
            s.sources += [] if label.source in s.sources else [label.source]
    return sorted(found.values(), key=lambda s: (-s.count, -s.last_at.timestamp()))
