"""Talk to a person: the customer asks, is angry, or another handler gives up.

Other handlers call ``request_handoff(ctx, reason)`` (FAQ: low confidence and no suggestion
picked; complaints: the customer asks for a person) and ``after_failed_answer(ctx)`` (FAQ: a
question it could not answer; the second failure of the same question hands off). The engine
calls ``customer_wrote`` for every message while the conversation is with staff.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.handoff import QueueInfo, cancel_waiting, enqueue_handoff, open_handoff, queue_info, relay_to_staff
from handlers.base import Context, Handler, menu_buttons
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.services import Services
from handlers.staff_room import relay_customer
from storage.models import Attachment, Conversation, Message, utcnow
from storage.repositories import KeyValueStore

# "人工" alone or in a phrase; never inside words like 人工智能.
_REQUEST_ZH = re.compile(r"^(?:请|我要|我想|帮我)?(?:转|找|接|要)?人工(?:客服|服务|坐席)?(?:吧|呢|啊|谢谢)?$|转人工|人工客服|人工服务|找人工|真人客服|接人工")
_REQUEST_EN = re.compile(
    r"^(?:an? )?(?:human|agent|operator|person|real person|human agent)(?: please)?$"
    r"|\b(?:talk|speak|chat|connect me)(?: to| with)? (?:a |an |to a )?(?:human|person|real person|agent|operator|someone)\b"
    r"|\breal (?:human|person)\b|\bhuman agent\b", re.IGNORECASE)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)

_ANGRY_ZH = ("垃圾", "太差", "差劲", "气死", "骗子", "废物", "滚", "破系统", "什么破", "搞什么", "有病", "烂透", "坑人",
             "无语", "忍无可忍", "太过分", "恶心", "受够了")
_ANGRY_EN = re.compile(r"\b(?:useless|ridiculous|terrible|stupid|idiot\w*|furious|angry|worst|wtf|damn|scam|"
                       r"rubbish|garbage|pathetic|fed up|sick of|unacceptable|disgusting)\b", re.IGNORECASE)
_SHOUT = re.compile(r"[!！?？]{3,}")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")

#: Two failures of the same question within this time hand the customer to a person.
REPEAT_WINDOW = timedelta(hours=1)
#: Character-bigram overlap from which two questions count as "the same".
SAME_QUESTION = 0.6
#: What a waiting customer writes to leave the queue (besides the 取消排队 button).
CANCEL_WORDS = frozenset({"取消", "取消排队", "不用了", "退出人工", "cancel", "never mind", "nevermind"})
CANCEL_PAYLOAD = "handoff:cancel"


def is_request(text: str) -> bool:
    text = text.strip()
    return bool(text) and bool(_REQUEST_ZH.search(text.replace(" ", "")) or _REQUEST_EN.search(text))


def anger_score(text: str) -> int:
    """2 per abusive or furious word, 1 for a run of !!! or ??? (2 from six on), 1 for SHOUTING
    (two or more capitalised words making most of the letters). Two points and up read as angry."""
    score = 2 * sum(1 for word in _ANGRY_ZH if word in text) + 2 * len(_ANGRY_EN.findall(text))
    runs = [len(m) for m in _SHOUT.findall(text)]
    if runs:
        score += 2 if max(runs) >= 6 else 1
    caps = _CAPS_WORD.findall(text)
    letters = sum(ch.isalpha() and ch.isascii() for ch in text)
    if len(caps) >= 2 and letters and sum(len(w) for w in caps) / letters > 0.6:
        score += 1
    return score


def is_angry(text: str) -> bool:
    return anger_score(text) >= 2


def _bigrams(text: str) -> set[str]:
    text = _PUNCT.sub("", text.lower())
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def same_question(a: str, b: str) -> bool:
    x, y = _bigrams(a), _bigrams(b)
    return bool(x and y) and len(x & y) / len(x | y) >= SAME_QUESTION


def _is_question(text: str | None) -> bool:
    return bool(text) and not text.startswith("/") and not is_request(text)


def _question(ctx: Context) -> str:
    """What the customer wants answered: this message, or the last real one before "人工"
    (not a command, not the request itself)."""
    if _is_question(ctx.text):
        return ctx.text
    recent = ctx.session.scalars(
        select(Message.text).where(Message.conversation_id == ctx.conversation.id, Message.direction == "in",
                                   Message.button.is_(None))
        .order_by(Message.id.desc()).limit(10)
    )
    for text in recent:
        if _is_question(text) and text != ctx.text:
            return text
    return ""


def _hours_text(ctx: Context) -> str:
    """The working hours compactly: consecutive days with the same times as one range
    ("周一至周五 09:00-17:00")."""
    hours = ctx.services.settings.working_hours
    if hours.week is None:
        return ctx.t("handoff.hours_always")
    runs: list[tuple[int, int, str]] = []
    for day in range(7):
        spans = hours.week.get(day)
        times = ", ".join(f"{a:%H:%M}-{b:%H:%M}".replace("23:59", "24:00") for a, b in spans) if spans else ""
        if times and runs and runs[-1][1] == day - 1 and runs[-1][2] == times:
            runs[-1] = (runs[-1][0], day, times)
        elif times:
            runs.append((day, day, times))
    return ctx.t("handoff.hours_list_sep").join(f"{_day_range(ctx, first, last)} {times}" for first, last, times in runs)


def _day_range(ctx: Context, first: int, last: int) -> str:
    if first == last:
        return ctx.t(f"handoff.day.{first}")
    return ctx.t("handoff.day_range", first=ctx.t(f"handoff.day.{first}"), last=ctx.t(f"handoff.day.{last}"))


def _when(ctx: Context, info: QueueInfo) -> str:
    assert info.next_open is not None
    local = info.next_open.astimezone(ctx.services.settings.working_hours.zone)
    return ctx.t("handoff.when", month=local.month, day=local.day, weekday=ctx.t(f"handoff.day.{local.weekday()}"),
                 time=f"{local:%H:%M}")


def request_handoff(ctx: Context, reason: str, question: str | None = None) -> list[Reply]:
    """Hand the conversation to staff and tell the customer where they stand.

    ``reason``: request | anger | repeat_failure | low_confidence | complaint. ``question``
    defaults to the customer's last real question.
    """
    handoff, new = enqueue_handoff(ctx.session, ctx.services, ctx.conversation, reason,
                                   question if question is not None else _question(ctx))
    if new:
        ctx.clear_state()
    info = queue_info(ctx.session, ctx.services.settings, handoff)
    replies = []
    if reason == "anger" and new:
        replies.append(Reply(ctx.t("handoff.sorry")))
    if handoff.status == "active":
        return replies  # assigned at once: the notice of HandoffTaken names the agent
    if not handoff.after_hours:
        text = ctx.t("handoff.queued", position=info.position, ahead=info.position - 1, minutes=info.wait_minutes)
        replies.append(Reply(text, [Button(ctx.t("handoff.button.cancel"), CANCEL_PAYLOAD)]))
        return replies
    if info.next_open is not None:
        text = ctx.t("handoff.after_hours", hours=_hours_text(ctx), when=_when(ctx, info))
    else:
        text = ctx.t("handoff.nobody_on_duty")
    if handoff.question:
        replies.append(Reply(text + "\n" + ctx.t("handoff.recorded", question=handoff.question), menu_buttons(ctx.lang)))
    else:
        ctx.set_state("handoff:question", {"handoff_id": handoff.id})
        replies.append(Reply(text + "\n" + ctx.t("handoff.ask_question")))
    return replies


def failed_questions_key(conversation_id: int) -> str:
    """Where a conversation's recent unanswered questions wait (the key-value store, an hour)."""
    return f"handoff:failed:{conversation_id}"


def after_failed_answer(ctx: Context, question: str | None = None) -> list[Reply] | None:
    """Call when the bot could not answer ``question`` (default: this message). The second failure
    of the same question within an hour hands off and returns the replies; otherwise None and the
    caller answers as it would."""
    question = (question if question is not None else ctx.text).strip()
    if not question:
        return None
    store, key = KeyValueStore(ctx.session), failed_questions_key(ctx.conversation.id)
    now = utcnow()
    earlier = [f for f in (store.get(key) or {}).get("failed", [])
               if now - datetime.fromisoformat(f["at"]) < REPEAT_WINDOW]
    if any(same_question(question, f["q"]) for f in earlier):
        store.remove(key)
        return request_handoff(ctx, "repeat_failure", question)
    earlier = (earlier + [{"q": question[:500], "at": now.isoformat()}])[-5:]
    store.put(key, {"failed": earlier}, ttl=REPEAT_WINDOW)
    return None


def customer_wrote(session: Session, services: Services, conversation: Conversation, text: str,
                   button: str | None, files: Sequence[Attachment] = ()) -> list[Reply] | None:
    """The engine's hook for a message in human mode: the bot stays silent, staff see it (in the
    console, and in the staff room's thread with its files).

    Returns the replies to send (none while the customer waits or a person owns the chat; a
    confirmation when a waiting customer cancels), or None when no handoff is open after all:
    the conversation is back with the bot, which then answers the message.
    """
    if button == CANCEL_PAYLOAD or text.strip().lower() in CANCEL_WORDS:
        if cancel_waiting(session, services, conversation):
            lang = conversation.language or services.settings.default_language
            return [Reply(t("handoff.cancelled", lang), menu_buttons(lang))]
    if not relay_to_staff(session, services, conversation):
        return None
    relay_customer(session, services, conversation, text, files)
    return []


class HandoffHandler(Handler):
    name = "handoff"
    priority = 3
    interrupts = True

    def on_intent(self, ctx: Context) -> list[Reply] | None:
        if is_request(ctx.text):
            return request_handoff(ctx, "request")
        if is_angry(ctx.text):
            return request_handoff(ctx, "anger")
        return None

    def on_button(self, ctx: Context, payload: str) -> list[Reply] | None:
        if payload == "handoff:request":
            return request_handoff(ctx, "request")
        if payload == CANCEL_PAYLOAD:
            # In human mode the engine's hook cancels; here only a recorded question can be withdrawn.
            if cancel_waiting(ctx.session, ctx.services, ctx.conversation):
                return [Reply(ctx.t("handoff.cancelled"), menu_buttons(ctx.lang))]
            return [Reply(ctx.t("handoff.nothing_to_cancel"), menu_buttons(ctx.lang))]
        return None

    def on_state(self, ctx: Context) -> list[Reply] | None:
        """After hours, the customer asked for a person before saying what about: record it now."""
        if ctx.state != "handoff:question" or not ctx.text:
            return None
        handoff = open_handoff(ctx.session, ctx.conversation.id)
        wanted = ctx.state_data.get("handoff_id")
        ctx.clear_state()
        if handoff is None or handoff.id != wanted:
            return None
        handoff.question = ctx.text
        return [Reply(ctx.t("handoff.recorded", question=ctx.text), menu_buttons(ctx.lang))]
