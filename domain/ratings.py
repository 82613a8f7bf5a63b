"""Ratings, the rules: a 1-5 score asked once per finished subject (a handoff, an application)
and reminded at most once, "helpful / not helpful" votes on FAQ answers, a general score from
the menu, and the figures supervisors and content managers read. No wording here: the dialog
(handlers/feedback.py) asks and thanks; the reminder is a ``RatingReminderDue`` event.

Nothing here knows the subjects' tables: entry and application ids are stored as plain values.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.events import Event, EventBus
from domain.settings import DeskServices, DeskSettings
from storage import jobs
from storage.models import Conversation, Customer, Job, Rating, StaffUser, utcnow
from storage.repositories import person_customer_ids

JOB_REMINDER = "feedback.rating_reminder"
SUBJECTS = ("handoff", "application")
MAX_COMMENT = 1000


@dataclass(frozen=True)
class RatingReminderDue(Event):
    """An asked rating is still unanswered after the reminder delay: remind the customer once."""

    name: ClassVar[str] = "rating.reminder_due"
    rating_id: int
    conversation_id: int
    subject_type: str
    language: str


@dataclass(frozen=True)
class RatingGiven(Event):
    """A customer scored a subject (1-5) or voted on an FAQ answer; ``kind`` says which."""

    name: ClassVar[str] = "rating.given"
    rating_id: int
    conversation_id: int
    kind: str
    subject_type: str


def reminder_key(rating: Rating) -> str:
    return f"feedback:reminder:{rating.id}"


def ask_once(
    session: Session,
    settings: DeskSettings,
    conversation: Conversation,
    subject_type: str,
    subject_id: str | int,
    staff_id: int | None = None,
    *,
    service: str | None = None,
) -> Rating | None:
    """The new request for a 1-5 score of a finished handoff or application, with its one reminder
    scheduled; None if this subject was asked before. ``staff_id`` is the agent who served;
    ``service`` the application's service type."""
    if subject_type not in SUBJECTS:
        raise ValueError(f"subject_type must be one of {SUBJECTS}")
    key = f"{subject_type}:{subject_id}"
    if session.scalar(select(Rating.id).where(Rating.request_key == key)) is not None:
        return None
    now = utcnow()
    rating = Rating(
        kind="score", subject_type=subject_type, subject_id=str(subject_id), request_key=key, status="asked",
        conversation_id=conversation.id, customer_id=conversation.customer_id, staff_id=staff_id,
        application_id=int(subject_id) if subject_type == "application" else None, service=service,
        asked_at=now, created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError:  # asked by another worker at the same moment
        return None
    jobs.schedule(session, JOB_REMINDER, now + timedelta(hours=settings.rating_reminder_hours),
                  {"rating_id": rating.id}, dedupe_key=reminder_key(rating))
    return rating


def run_reminder(session: Session, job: Job, services: DeskServices) -> None:
    """Job ``feedback.rating_reminder``: remind once if the rating is still unanswered."""
    rating = session.get(Rating, job.payload.get("rating_id"))
    if rating is None or rating.status != "asked" or rating.reminded_at is not None:
        return
    conversation = session.get(Conversation, rating.conversation_id)
    if conversation is None:
        return
    language = conversation.language or services.settings.default_language
    services.events.publish(session, RatingReminderDue(rating.id, conversation.id, rating.subject_type, language))
    rating.reminded_at = utcnow()


def own_rating(session: Session, customer: Customer, rating_id: object) -> Rating | None:
    """The rating only if it was asked of this person, over linked identities (a forged button
    gets nothing)."""
    if not isinstance(rating_id, int):
        return None
    return session.scalars(select(Rating).where(
        Rating.id == rating_id, Rating.customer_id.in_(person_customer_ids(customer)))).one_or_none()


def waiting_rating(session: Session, conversation: Conversation) -> Rating | None:
    """The newest rating this conversation was asked and has not answered."""
    return session.scalars(
        select(Rating).where(Rating.conversation_id == conversation.id, Rating.status == "asked")
        .order_by(Rating.id.desc())
    ).first()


def valid_score(raw: str) -> int | None:
    """A score as pressed (1-5), or None."""
    return int(raw) if raw in ("1", "2", "3", "4", "5") else None


def _given(session: Session, events: EventBus, rating: Rating) -> None:
    events.publish(session, RatingGiven(rating.id, rating.conversation_id, rating.kind, rating.subject_type))


def record_score(session: Session, events: EventBus, rating: Rating, score: int) -> None:
    """The answer to an asked rating; its reminder is no longer needed."""
    rating.score, rating.status, rating.rated_at = score, "rated", utcnow()
    jobs.cancel(session, reminder_key(rating))
    _given(session, events, rating)


def record_general_score(session: Session, events: EventBus, conversation: Conversation, customer: Customer,
                         score: int) -> Rating:
    """A score of the service as a whole, given from the menu without being asked."""
    now = utcnow()
    rating = Rating(kind="score", subject_type="service", status="rated", conversation_id=conversation.id,
                    customer_id=customer.id, score=score, rated_at=now, created_at=now)
    session.add(rating)
    session.flush()
    _given(session, events, rating)
    return rating


def record_comment(rating: Rating, text: str) -> None:
    rating.comment = text[:MAX_COMMENT]


def record_vote(
    session: Session, events: EventBus, conversation: Conversation, entry_id: str, helpful: bool,
    question_log_id: int | None = None,
) -> Rating:
    """Count a vote on an FAQ entry; pressing again for the same answer changes the vote, not the count."""
    query = select(Rating).where(Rating.kind == "helpful", Rating.conversation_id == conversation.id,
                                 Rating.entry_id == entry_id)
    query = query.where(Rating.question_log_id.is_(None) if question_log_id is None
                        else Rating.question_log_id == question_log_id)
    vote = session.scalars(query).first()
    now = utcnow()
    if vote is None:
        vote = Rating(kind="helpful", subject_type="faq", subject_id=entry_id, entry_id=entry_id, status="rated",
                      conversation_id=conversation.id, customer_id=conversation.customer_id,
                      question_log_id=question_log_id, created_at=now)
        session.add(vote)
    vote.helpful, vote.rated_at = helpful, now
    session.flush()
    _given(session, events, vote)
    return vote


def rating_json(rating: Rating) -> dict[str, Any]:
    """The REST representation of a rating (``/api/v1/ratings``), shared with the outgoing webhooks."""
    def _when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": rating.id, "kind": rating.kind, "subject_type": rating.subject_type, "subject_id": rating.subject_id,
        "status": rating.status, "score": rating.score, "helpful": rating.helpful, "comment": rating.comment,
        "conversation_id": rating.conversation_id, "customer_id": rating.customer_id, "entry_id": rating.entry_id,
        "question_log_id": rating.question_log_id, "application_id": rating.application_id,
        "service": rating.service, "staff_id": rating.staff_id, "asked_at": _when(rating.asked_at),
        "reminded_at": _when(rating.reminded_at), "rated_at": _when(rating.rated_at),
    }


# -- figures -------------------------------------------------------------------------------------

def _average(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


def stats(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Rating figures for [since, until): scores overall, by agent, service, subject and day,
    how many asked ratings were answered, and FAQ votes by entry."""
    scored = list(session.execute(
        select(Rating.score, Rating.rated_at, Rating.subject_type, Rating.service, Rating.staff_id)
        .where(Rating.kind == "score", Rating.status == "rated", Rating.rated_at >= since, Rating.rated_at < until)
    ))
    distribution = {n: 0 for n in range(1, 6)}
    groups: dict[str, dict[Any, list[int]]] = {"agent": defaultdict(list), "service": defaultdict(list),
                                               "subject": defaultdict(list), "day": defaultdict(list)}
    for row in scored:
        distribution[row.score] += 1
        groups["subject"][row.subject_type].append(row.score)
        groups["day"][row.rated_at.date().isoformat()].append(row.score)
        if row.staff_id is not None:
            groups["agent"][row.staff_id].append(row.score)
        if row.service:
            groups["service"][row.service].append(row.score)
    names = dict(session.execute(select(StaffUser.id, StaffUser.display_name)
                                 .where(StaffUser.id.in_(list(groups["agent"])))).all()) if groups["agent"] else {}

    def summary(scores: list[int]) -> dict[str, Any]:
        return {"count": len(scores), "average": _average(sum(scores), len(scores))}

    asked = session.execute(
        select(Rating.status, func.count(), func.count(Rating.reminded_at))
        .where(Rating.request_key.is_not(None), Rating.asked_at >= since, Rating.asked_at < until)
        .group_by(Rating.status)
    ).all()
    asked_total = sum(r[1] for r in asked)
    answered = sum(r[1] for r in asked if r[0] == "rated")
    votes = session.execute(
        select(Rating.entry_id, Rating.helpful, func.count())
        .where(Rating.kind == "helpful", Rating.rated_at >= since, Rating.rated_at < until)
        .group_by(Rating.entry_id, Rating.helpful)
    ).all()
    by_entry: dict[str, dict[str, int]] = defaultdict(lambda: {"helpful": 0, "not_helpful": 0})
    for entry_id, helpful, count in votes:
        by_entry[entry_id]["helpful" if helpful else "not_helpful"] += count
    all_scores = [row.score for row in scored]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "scores": {**summary(all_scores), "distribution": distribution},
        "by_agent": [{"staff_id": k, "name": names.get(k), **summary(v)} for k, v in sorted(groups["agent"].items())],
        "by_service": [{"service": k, **summary(v)} for k, v in sorted(groups["service"].items())],
        "by_subject": {k: summary(v) for k, v in sorted(groups["subject"].items())},
        "by_day": [{"day": k, **summary(v)} for k, v in sorted(groups["day"].items())],
        "requests": {"asked": asked_total, "answered": answered, "reminded": sum(r[2] for r in asked),
                     "response_rate": round(answered / asked_total, 3) if asked_total else None},
        "faq": {
            "helpful": sum(v["helpful"] for v in by_entry.values()),
            "not_helpful": sum(v["not_helpful"] for v in by_entry.values()),
            "by_entry": [{"entry_id": k, **v} for k, v in
                         sorted(by_entry.items(), key=lambda kv: (-kv[1]["not_helpful"], kv[0]))],
        },
    }


def unhelpful_entries(session: Session, min_votes: int, since: datetime | None = None) -> list[dict[str, Any]]:
    """FAQ entries with at least ``min_votes`` "not helpful" votes, worst first, for content managers."""
    query = select(Rating.entry_id, Rating.helpful, func.count(), func.max(Rating.rated_at)).where(
        Rating.kind == "helpful")
    if since is not None:
        query = query.where(Rating.rated_at >= since)
    rows = session.execute(query.group_by(Rating.entry_id, Rating.helpful)).all()
    entries: dict[str, dict[str, Any]] = defaultdict(lambda: {"helpful": 0, "not_helpful": 0, "last_vote_at": None})
    for entry_id, helpful, count, last in rows:
        entry = entries[entry_id]
        entry["helpful" if helpful else "not_helpful"] += count
        if entry["last_vote_at"] is None or (last is not None and last > entry["last_vote_at"]):
            entry["last_vote_at"] = last
    listed = [
        {"entry_id": k, **v, "last_vote_at": v["last_vote_at"].isoformat() if v["last_vote_at"] else None,
         "not_helpful_share": round(v["not_helpful"] / (v["helpful"] + v["not_helpful"]), 3)}
        for k, v in entries.items() if v["not_helpful"] >= min_votes
    ]
    return sorted(listed, key=lambda e: (-e["not_helpful"], e["entry_id"]))
