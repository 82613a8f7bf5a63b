"""Ratings: "helpful / not helpful" under FAQ answers, 1-5 scores after a handoff or an
application (asked once, reminded at most once), a general rating from the menu, and the
figures the supervisors and content managers read.

Other features call ``faq_feedback_buttons`` (FAQ answers) and ``request_rating`` /
``send_rating_request`` (handoff ended, application completed); nothing here knows their
tables: entry and application ids are stored as plain values.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import jobs
from domain.complaints import person_customer_ids
from domain.settings import DeskSettings
from handlers.i18n import t
from handlers.messages import Button, Reply
from storage.outbox import enqueue
from handlers.services import Services
from handlers.base import Context, Handler, menu_buttons
from storage.models import Conversation, Job, Rating, StaffUser, utcnow

log = logging.getLogger(__name__)

JOB_REMINDER = "feedback.rating_reminder"
#: ``services.extras`` key of the FAQ feature's "next suggestions" for a question whose answer
#: did not help: ``(ctx, entry_id, question_log_id) -> list[Button]`` (buttons it handles itself).
SUGGESTIONS_EXTRA = "faq.suggestions"
SUBJECTS = ("handoff", "application")
MAX_COMMENT = 1000
LOW_SCORE = 2
_RATE_WORDS = {"评价", "评价服务", "我要评价", "打分", "满意度评价", "rate", "rate us", "rating", "give feedback"}

Suggest = Callable[[Context, str, "int | None"], list[Button]]


# -- what other features call --------------------------------------------------------------------

def faq_feedback_buttons(lang: str, entry_id: str, question_log_id: int | None = None) -> list[Button]:
    """The "helpful / not helpful" buttons the FAQ handler appends to an answer."""
    log_part = str(question_log_id) if question_log_id is not None else "-"
    return [
        Button(t("feedback.button.helpful", lang), f"feedback:faq:up:{log_part}:{entry_id}"),
        Button(t("feedback.button.not_helpful", lang), f"feedback:faq:down:{log_part}:{entry_id}"),
    ]


def _score_buttons(lang: str, prefix: str) -> list[Button]:
    return [Button(t("feedback.score_label", lang, n=n), f"{prefix}:{n}") for n in range(1, 6)]


def request_rating(
    session: Session,
    conversation: Conversation,
    subject_type: str,
    subject_id: str | int,
    staff_id: int | None = None,
    *,
    service: str | None = None,
    settings: DeskSettings,
) -> list[Reply]:
    """Ask for a 1-5 score of a finished handoff or application, once per subject.

    Returns the question to send (empty if this subject was asked before) and schedules one
    reminder. ``staff_id`` is the agent who served; ``service`` the application's service type.
    """
    if subject_type not in SUBJECTS:
        raise ValueError(f"subject_type must be one of {SUBJECTS}")
    key = f"{subject_type}:{subject_id}"
    if session.scalar(select(Rating.id).where(Rating.request_key == key)) is not None:
        return []
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
        return []
    jobs.schedule(session, JOB_REMINDER, now + timedelta(hours=settings.rating_reminder_hours),
                  {"rating_id": rating.id}, dedupe_key=f"feedback:reminder:{rating.id}")
    lang = conversation.language or settings.default_language
    return [_question(rating, lang, "feedback.ask." + subject_type)]


def send_rating_request(
    session: Session,
    services: Services,
    conversation: Conversation,
    subject_type: str,
    subject_id: str | int,
    staff_id: int | None = None,
    *,
    service: str | None = None,
) -> list[int]:
    """``request_rating`` for callers outside a chat turn (console, API, jobs): queues the question
    in the outbox; call ``services.wake_outbox()`` after the commit."""
    replies = request_rating(session, conversation, subject_type, subject_id, staff_id, service=service,
                             settings=services.settings)
    return enqueue(session, conversation, replies) if replies else []


def _question(rating: Rating, lang: str, key: str) -> Reply:
    return Reply(t(key, lang), _score_buttons(lang, f"feedback:score:{rating.id}"))


def run_reminder(session: Session, job: Job, services: Services) -> None:
    """Job ``feedback.rating_reminder``: remind once if the rating is still unanswered."""
    rating = session.get(Rating, job.payload.get("rating_id"))
    if rating is None or rating.status != "asked" or rating.reminded_at is not None:
        return
    conversation = session.get(Conversation, rating.conversation_id)
    if conversation is None:
        return
    lang = conversation.language or services.settings.default_language
    enqueue(session, conversation, [_question(rating, lang, "feedback.remind." + rating.subject_type)])
    rating.reminded_at = utcnow()


def record_vote(
    session: Session, conversation: Conversation, entry_id: str, helpful: bool, question_log_id: int | None = None
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
    return vote


# -- the chat ------------------------------------------------------------------------------------

class FeedbackHandler(Handler):
    name = "feedback"
    priority = 45

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        if ctx.text.strip().lower() in _RATE_WORDS:
            return self._rate_menu(ctx)
        return None

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        parts = payload.split(":", 4)
        action = parts[1] if len(parts) > 1 else ""
        if action == "rate":
            return self._rate_menu(ctx)
        if action == "faq" and len(parts) == 5 and parts[2] in ("up", "down") and parts[4]:
            log_id = int(parts[3]) if parts[3].isdigit() else None
            return self._vote(ctx, parts[4], parts[2] == "up", log_id)
        if action == "score" and len(parts) == 4 and parts[2].isdigit():
            return self._score(ctx, int(parts[2]), parts[3])
        if action == "general" and len(parts) == 3:
            return self._general(ctx, parts[2])
        if action == "skip":
            if ctx.state == "feedback:comment":
                ctx.clear_state()
            return [Reply(ctx.t("feedback.thanks"), menu_buttons(ctx.lang))]
        return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]

    def on_state(self, ctx: Context) -> list[Reply] | None:
        if ctx.state != "feedback:comment":
            ctx.clear_state()
            return None
        if not ctx.text:
            return [Reply(ctx.t("feedback.ask.comment"), [Button(ctx.t("feedback.button.skip"), "feedback:skip")])]
        rating = self._own_rating(ctx, ctx.state_data.get("rating_id"))
        if rating is not None:
            rating.comment = ctx.text[:MAX_COMMENT]
        ctx.clear_state()
        return [Reply(ctx.t("feedback.comment_saved"), menu_buttons(ctx.lang))]

    def _own_rating(self, ctx: Context, rating_id: object) -> Rating | None:
        """The rating only if it was asked of this person (a forged button gets nothing)."""
        rating = ctx.session.get(Rating, rating_id) if isinstance(rating_id, int) else None
        if rating is None or rating.customer_id not in person_customer_ids(ctx.session, ctx.customer):
            return None
        return rating

    def _rate_menu(self, ctx: Context) -> list[Reply]:
        waiting = ctx.session.scalars(
            select(Rating).where(Rating.conversation_id == ctx.conversation.id, Rating.status == "asked")
            .order_by(Rating.id.desc())
        ).first()
        if waiting is not None:
            return [_question(waiting, ctx.lang, "feedback.ask." + waiting.subject_type)]
        return [Reply(ctx.t("feedback.ask.service"), _score_buttons(ctx.lang, "feedback:general"))]

    def _general(self, ctx: Context, raw: str) -> list[Reply]:
        if not raw.isdigit() or not 1 <= int(raw) <= 5:
            return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]
        now = utcnow()
        rating = Rating(kind="score", subject_type="service", status="rated", conversation_id=ctx.conversation.id,
                        customer_id=ctx.customer.id, score=int(raw), rated_at=now, created_at=now)
        ctx.session.add(rating)
        ctx.session.flush()
        return self._after_score(ctx, rating)

    def _score(self, ctx: Context, rating_id: int, raw: str) -> list[Reply]:
        rating = self._own_rating(ctx, rating_id)
        if rating is None or not raw.isdigit() or not 1 <= int(raw) <= 5:
            return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]
        if rating.status == "rated":
            return [Reply(ctx.t("feedback.already_rated"), menu_buttons(ctx.lang))]
        rating.score, rating.status, rating.rated_at = int(raw), "rated", utcnow()
        jobs.cancel(ctx.session, f"feedback:reminder:{rating.id}")
        return self._after_score(ctx, rating)

    def _after_score(self, ctx: Context, rating: Rating) -> list[Reply]:
        """Thank, and invite a comment unless another flow is running (it keeps its place)."""
        buttons = [Button(ctx.t("feedback.button.skip"), "feedback:skip")]
        if rating.score is not None and rating.score <= LOW_SCORE:
            buttons.append(Button(ctx.t("menu.button.complain"), "complaint:start"))
        if ctx.state and not ctx.state.startswith("feedback:"):
            return [Reply(ctx.t("feedback.thanks"))]
        ctx.set_state("feedback:comment", {"rating_id": rating.id})
        key = "feedback.thanks_low" if rating.score is not None and rating.score <= LOW_SCORE else "feedback.thanks_ask"
        return [Reply(ctx.t(key), buttons)]

    def _vote(self, ctx: Context, entry_id: str, helpful: bool, question_log_id: int | None) -> list[Reply]:
        record_vote(ctx.session, ctx.conversation, entry_id, helpful, question_log_id)
        if helpful:
            return [Reply(ctx.t("feedback.faq.glad"))]
        suggest: Suggest | None = ctx.services.extras.get(SUGGESTIONS_EXTRA)
        suggestions = suggest(ctx, entry_id, question_log_id) if suggest else []
        key = "feedback.faq.sorry_suggest" if suggestions else "feedback.faq.sorry"
        return [Reply(ctx.t(key), suggestions + [Button(ctx.t("menu.button.human"), "handoff:request")])]


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
