"""Ratings in chat: "helpful / not helpful" under FAQ answers, 1-5 scores after a handoff or an
application, a general rating from the menu, and the thanks and comment that follow. The rules
(asked once, reminded once, what is counted) are in ``domain.ratings``; this module talks.

Other features call ``faq_feedback_buttons`` (FAQ answers) and ``request_rating`` /
``send_rating_request`` (handoff ended, application completed).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain import ratings
from domain.settings import DeskSettings
from handlers.base import Context, Handler, menu_buttons, row_id
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.services import Services
from storage.models import Conversation, Rating
from storage.outbox import enqueue

LOW_SCORE = 2
_RATE_WORDS = {"评价", "评价服务", "我要评价", "打分", "满意度评价", "rate", "rate us", "rating", "give feedback"}


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


def rating_question(rating: Rating, lang: str, key: str) -> Reply:
    """The question ``key`` (an ask or a reminder) with the rating's five score buttons."""
    return Reply(t(key, lang), _score_buttons(lang, f"feedback:score:{rating.id}"))


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
    rating = ratings.ask_once(session, settings, conversation, subject_type, subject_id, staff_id, service=service)
    if rating is None:
        return []
    lang = conversation.language or settings.default_language
    return [rating_question(rating, lang, "feedback.ask." + subject_type)]


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
            log_id = row_id(parts[3])
            return self._vote(ctx, parts[4], parts[2] == "up", log_id)
        if action == "score" and len(parts) == 4 and (rating_id := row_id(parts[2])):
            return self._score(ctx, rating_id, parts[3])
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
        rating = ratings.own_rating(ctx.session, ctx.customer, ctx.state_data.get("rating_id"))
        if rating is not None:
            ratings.record_comment(rating, ctx.text)
        ctx.clear_state()
        return [Reply(ctx.t("feedback.comment_saved"), menu_buttons(ctx.lang))]

    def _rate_menu(self, ctx: Context) -> list[Reply]:
        waiting = ratings.waiting_rating(ctx.session, ctx.conversation)
        if waiting is not None:
            return [rating_question(waiting, ctx.lang, "feedback.ask." + waiting.subject_type)]
        return [Reply(ctx.t("feedback.ask.service"), _score_buttons(ctx.lang, "feedback:general"))]

    def _general(self, ctx: Context, raw: str) -> list[Reply]:
        score = ratings.valid_score(raw)
        if score is None:
            return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]
        rating = ratings.record_general_score(ctx.session, ctx.services.events, ctx.conversation, ctx.customer, score)
        return self._after_score(ctx, rating)

    def _score(self, ctx: Context, rating_id: int, raw: str) -> list[Reply]:
        rating = ratings.own_rating(ctx.session, ctx.customer, rating_id)
        score = ratings.valid_score(raw)
        if rating is None or score is None:
            return [Reply(ctx.t("fallback.stale_button"), menu_buttons(ctx.lang))]
        if rating.status == "rated":
            return [Reply(ctx.t("feedback.already_rated"), menu_buttons(ctx.lang))]
        ratings.record_score(ctx.session, ctx.services.events, rating, score)
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
        ratings.record_vote(ctx.session, ctx.services.events, ctx.conversation, entry_id, helpful, question_log_id)
        if helpful:
            return [Reply(ctx.t("feedback.faq.glad"))]
        suggest = ctx.services.faq_suggestions
        suggestions = suggest(ctx, entry_id, question_log_id) if suggest else []
        key = "feedback.faq.sorry_suggest" if suggestions else "feedback.faq.sorry"
        return [Reply(ctx.t(key), suggestions + [Button(ctx.t("menu.button.human"), "handoff:request")])]
