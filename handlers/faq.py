"""Answering free text from the knowledge base: the catch-all handler, run after every other intent.

Every question is stored with its hits, scores and decision. Answer: the
entry's text with its follow-up buttons. Unsure between a few entries: "did
you mean" buttons; "none of these" hands the question to a person. Nothing
fits: the question is recorded for staff (the same question failing twice
hands off), and `domain.questions.answer_recorded` later sends the staff answer
to the customer who asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import questions
from handlers.application import match_service
from handlers.base import Context, Handler, Peek, menu_buttons, row_id
from handlers.feedback import faq_feedback_buttons
from handlers.handoff import after_failed_answer, request_handoff
from handlers.i18n import detect_language
from handlers.messages import Button, Reply
from knowledge import Answer, text_has_question
from storage.models import KnowledgeQuestion

#: Telegram limits callback data to 64 bytes; longer payloads are not offered as buttons.
MAX_PAYLOAD = 64


def _button(label: str, payload: str) -> list[Button]:
    return [Button(label[:60], payload)] if len(payload.encode()) <= MAX_PAYLOAD else []


def question_label(entry, lang: str) -> str:
    """The entry's question as a button label in the customer's language: its own question, or
    the first alternate phrasing written in that language."""
    if entry.lang == lang:
        return entry.question
    return next((a for a in entry.alternates if detect_language(a) == lang), entry.question)


def offer_named_service(ctx: Context, replies: list[Reply]) -> list[Reply]:
    """A question that names a service also offers to start that application (the service
    picker's button), unless the answer already does."""
    service = match_service(ctx.text, ctx.services.catalogue.services())
    payload = f"application:svc:{service.id}" if service is not None else ""
    if not replies or not payload or any(b.payload == payload for r in replies for b in r.buttons):
        return replies
    button = Button(ctx.t("faq.start_service", service=service.label(ctx.lang)), payload)
    last = replies[-1]
    return replies[:-1] + [Reply(last.text, [button, *last.buttons], last.files)]


def asking_language(text: str, lang: str) -> str:
    """The language a question is answered in: the one it is written in, else the chat's (emoji
    or markup say nothing of the customer's language)."""
    asked_in = detect_language(text) if text_has_question(text) else None
    return asked_in or lang


def follow_language(ctx: Context) -> None:
    """A question written in another language than the chat's switches the chat to it: the
    customer may change language between questions, and the answer (and what follows) is in the
    language asked in."""
    asked_in = asking_language(ctx.text, ctx.lang)
    if asked_in != ctx.lang:
        ctx.conversation.language = asked_in


@dataclass(frozen=True)
class PreparedAnswer:
    """The knowledge's answer to ``text`` in ``lang``, asked before the turn's transaction."""

    text: str
    lang: str
    answer: Answer


class FaqHandler(Handler):
    name = "faq"
    priority = 1000  # last: any text no other handler claims is a question

    def prepare(self, peek: Peek, services: Any) -> PreparedAnswer | None:
        """Ask the knowledge outside the locks when the text will most likely reach the FAQ: a chat
        with the bot and in no flow. Any other text is asked inside the turn, as before."""
        kb = services.knowledge
        if kb is None or not peek.text or peek.state is not None or peek.mode != "bot":
            return None
        lang = asking_language(peek.text, peek.lang)
        return PreparedAnswer(peek.text, lang, kb.ask(peek.text, lang))

    @staticmethod
    def _ask(ctx: Context, kb: Any) -> Answer:
        """The prepared answer when it was asked for this very text and language, else ask now."""
        ready = ctx.prepared.get("faq")
        if ready is not None and (ready.text, ready.lang) == (ctx.text, ctx.lang):
            return ready.answer
        return kb.ask(ctx.text, ctx.lang)

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        kb = ctx.services.knowledge
        if not ctx.text or kb is None:
            return None
        follow_language(ctx)
        return offer_named_service(ctx, self._reply(ctx, kb))

    def _reply(self, ctx: Context, kb: Any) -> list[Reply]:
        """The knowledge base's answer, suggestions, or the recorded question."""
        ans = self._ask(ctx, kb)
        if ans.reason == "no_question":  # emoji, markup, a long paste: nothing to answer or record
            return [Reply(ctx.t("faq.ask_in_words"), menu_buttons(ctx.lang))]
        q = KnowledgeQuestion(
            conversation_id=ctx.conversation.id, customer_id=ctx.customer.id, text=ctx.text, lang=ctx.lang,
            decision=ans.decision, confidence=round(ans.confidence, 6),
            top_entry_id=ans.top.entry_id if ans.top else None,
            hits=[{"entry_id": h.entry_id, "score": round(h.score, 6)} for h in ans.hits],
            status="open" if ans.decision == "decline" else None)
        questions.record_asked(ctx.session, ctx.services.events, q)
        if ans.decision == "answer":
            return self._answer(ctx, ans.top.entry_id, q.id)
        if ans.decision == "suggest":
            buttons = []
            for h in ans.suggestions:
                e = kb.entry(h.entry_id)
                buttons += _button(question_label(e, ctx.lang) if e else h.question, f"faq:pick:{q.id}:{h.entry_id}")
            buttons += _button(ctx.t("faq.none_of_these"), f"faq:none:{q.id}")
            return [Reply(ctx.t("faq.did_you_mean"), buttons)]
        return after_failed_answer(ctx) or self._recorded(ctx)

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        parts = payload.split(":")
        if len(parts) == 3 and parts[1] in ("entry", "show"):
            return self._answer(ctx, parts[2])
        if len(parts) == 4 and parts[1] == "pick":
            q = self._own_question(ctx, parts[2])
            if q is not None:
                q.chosen_entry_id = parts[3]
            return self._answer(ctx, parts[3], q.id if q is not None else None)
        if len(parts) == 3 and parts[1] == "none":
            # Unsure, and none of the suggestions fits: a person takes the question.
            q = self._own_question(ctx, parts[2])
            if q is not None:
                questions.leave_open(ctx.session, ctx.services.events, q)
            return request_handoff(ctx, "low_confidence", q.text if q is not None else None)
        return None

    def _own_question(self, ctx: Context, qid: str) -> KnowledgeQuestion | None:
        number = row_id(qid)
        q = ctx.session.get(KnowledgeQuestion, number) if number is not None else None
        return q if q is not None and q.conversation_id == ctx.conversation.id else None

    def _answer(self, ctx: Context, entry_id: str, question_id: int | None = None) -> list[Reply]:
        kb = ctx.services.knowledge
        entry = kb.entry(entry_id) if kb else None
        if entry is None:
            return [Reply(ctx.t("faq.entry_gone"))]
        text = kb.answer_text(entry, ctx.lang)
        if ctx.lang not in entry.answer:
            text = ctx.t("faq.only_in_" + entry.lang, answer=text)
        buttons = []
        for f in entry.followups:
            if f.entry:
                target = kb.entry(f.entry)
                if target is not None:
                    buttons += _button(question_label(target, ctx.lang), f"faq:entry:{f.entry}")
            elif f.action:
                buttons += _button(f.label.get(ctx.lang) or next(iter(f.label.values()), f.action), f.action)
        votes = [b for b in faq_feedback_buttons(ctx.lang, entry_id, question_id) if len(b.payload.encode()) <= MAX_PAYLOAD]
        return [Reply(text, buttons + votes)]

    def _recorded(self, ctx: Context) -> list[Reply]:
        return [Reply(ctx.t("faq.recorded"), [Button(ctx.t("menu.button.human"), "handoff:request")])]


def next_suggestions(ctx: Context, entry_id: str, question_id: int | None) -> list[Button]:
    """After "not helpful": the question's other top hits (from the question log) as buttons."""
    kb = ctx.services.knowledge
    q = ctx.session.get(KnowledgeQuestion, question_id) if question_id is not None else None
    if kb is None or q is None or q.conversation_id != ctx.conversation.id:
        return []
    buttons = []
    for hit in q.hits:
        e = kb.entry(hit["entry_id"])
        if e is not None and e.id != entry_id and len(buttons) < 3:
            buttons += _button(question_label(e, ctx.lang), f"faq:entry:{e.id}")
    return buttons
