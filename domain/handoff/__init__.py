"""Handoff to staff, free of any platform: the queue, an agent's ownership, and the figures.

A conversation handed to staff gets one open ``HandoffSession``. Inside working hours (with an
agent on duty) it waits in the queue and the conversation switches to ``mode="human"``: the
engine records the customer's messages and the bot stays silent. Outside hours the question is
recorded, the bot keeps serving, and the agent's later answer reaches the customer through the
outbox like any notification.

Locking: every change takes the conversation's row lock first (``FOR UPDATE`` on PostgreSQL, the
single writer on SQLite), then the handoff row, the same order the engine uses. A claim is also a
conditional ``UPDATE ... WHERE status = 'waiting'``, so of two agents claiming at once exactly one
wins even without the lock.
"""
from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage import jobs
from domain.staff import has_role
from handlers.i18n import t
from handlers.messages import Button, Reply
from storage.outbox import enqueue
from handlers.base import menu_buttons
from handlers.feedback import request_rating
from storage.models import (
    CannedReply, Conversation, HandoffEvent, HandoffNote, HandoffSession, Job, Message, StaffUser, utcnow,
)

if TYPE_CHECKING:
    from handlers.services import Services

log = logging.getLogger(__name__)

REASONS = ("request", "anger", "repeat_failure", "low_confidence", "complaint")
IDLE_JOB = "handoff.idle"
#: Closed handoffs needed before the measured handling time replaces the configured one.
MIN_SAMPLES = 5
#: ``services.extras`` key: channel name -> function(session, conversation, handoff) keeping the
#: platform's own session state in step (WeCom kf: ``kf/service_state/trans``). Called whenever
#: the handoff's status or agent changes: queued or requeued (``handoff.status == "waiting"``),
#: taken or transferred ("active", ``handoff.agent_id``), ended ("closed": back to the bot).
#: The WeCom kf channel registers here.
PLATFORM_TRANSFERS = "handoff.platform_transfers"
#: What a waiting customer writes to leave the queue (besides the 取消排队 button).
CANCEL_WORDS = frozenset({"取消", "取消排队", "不用了", "退出人工", "cancel", "never mind", "nevermind"})


class HandoffError(Exception):
    """A staff action that cannot happen; ``code`` names why (for the console's message)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class QueueInfo:
    position: int  # 1 = next to be taken
    wait_minutes: int | None  # None when nobody is on duty
    after_hours: bool
    next_open: datetime | None


# -- reading ------------------------------------------------------------------------------------

def open_handoff(session: Session, conversation_id: int) -> HandoffSession | None:
    return session.scalars(
        select(HandoffSession).where(HandoffSession.conversation_id == conversation_id,
                                     HandoffSession.status != "closed")
        .execution_options(populate_existing=True)
    ).one_or_none()


def last_closed(session: Session, conversation_id: int) -> HandoffSession | None:
    """The most recent finished handoff of a conversation."""
    return session.scalars(
        select(HandoffSession).where(HandoffSession.conversation_id == conversation_id,
                                     HandoffSession.status == "closed")
        .order_by(HandoffSession.closed_at.desc()).limit(1)
    ).first()


def agent_capable(user: StaffUser) -> bool:
    return user.active and has_role(user.role, "agent")


def on_duty_agents(session: Session) -> list[StaffUser]:
    users = session.scalars(select(StaffUser).where(StaffUser.active.is_(True), StaffUser.on_duty.is_(True)))
    return [u for u in users if has_role(u.role, "agent")]


def waiting(session: Session) -> list[HandoffSession]:
    """The queue, oldest first: what staff can take now."""
    return list(session.scalars(
        select(HandoffSession).where(HandoffSession.status == "waiting")
        .order_by(HandoffSession.clock_start, HandoffSession.id)
    ))


def owned_by(session: Session, agent_id: int) -> list[HandoffSession]:
    return list(session.scalars(
        select(HandoffSession).where(HandoffSession.status == "active", HandoffSession.agent_id == agent_id)
        .order_by(HandoffSession.claimed_at)
    ))


def queue_position(session: Session, handoff: HandoffSession) -> int:
    ahead = session.scalar(
        select(func.count()).select_from(HandoffSession).where(
            HandoffSession.status == "waiting",
            (HandoffSession.clock_start < handoff.clock_start)
            | ((HandoffSession.clock_start == handoff.clock_start) & (HandoffSession.id < handoff.id)),
        )
    )
    return int(ahead or 0) + 1


def handle_minutes(session: Session, services: "Services") -> float:
    """Average minutes an agent spends on a handoff over the last 30 days, or the setting."""
    since = utcnow() - timedelta(days=30)
    rows = session.execute(
        select(HandoffSession.claimed_at, HandoffSession.closed_at).where(
            HandoffSession.closed_at >= since, HandoffSession.claimed_at.is_not(None),
            HandoffSession.close_kind != "cancelled")
    ).all()
    spans = [(closed - claimed).total_seconds() / 60 for claimed, closed in rows if closed and claimed]
    if len(spans) < MIN_SAMPLES:
        return services.settings.handoff_handle_minutes
    return statistics.fmean(spans)


def queue_info(session: Session, services: "Services", handoff: HandoffSession) -> QueueInfo:
    position = queue_position(session, handoff)
    agents = len(on_duty_agents(session))
    wait = None
    if agents:
        # Every on-duty agent takes one conversation at a time; we are served in round position/agents.
        rounds = (position + agents - 1) // agents
        wait = max(1, round(rounds * handle_minutes(session, services)))
    next_open = handoff.clock_start if handoff.clock_start > utcnow() else None
    return QueueInfo(position, wait, handoff.after_hours, next_open)


# -- locking and the trail -----------------------------------------------------------------------

def lock_conversation(session: Session, services: "Services", conversation_id: int) -> Conversation:
    query = select(Conversation).where(Conversation.id == conversation_id).execution_options(populate_existing=True)
    if services.db.is_postgres:
        query = query.with_for_update(of=Conversation)
    return session.scalars(query).one()


def _locked(session: Session, services: "Services", handoff_id: int) -> HandoffSession:
    conversation_id = session.scalar(select(HandoffSession.conversation_id).where(HandoffSession.id == handoff_id))
    if conversation_id is None:
        raise HandoffError("not_found")
    lock_conversation(session, services, conversation_id)
    handoff = session.get(HandoffSession, handoff_id, populate_existing=True)
    assert handoff is not None
    return handoff


def _event(session: Session, handoff: HandoffSession, kind: str, staff_id: int | None = None, **detail: Any) -> None:
    session.add(HandoffEvent(handoff_id=handoff.id, kind=kind, staff_id=staff_id, detail=detail))


def _lang(conversation: Conversation, services: "Services") -> str:
    return conversation.language or services.settings.default_language


def _tell(session: Session, services: "Services", conversation: Conversation, key: str,
          buttons: list[Button] | None = None, **kw: object) -> None:
    enqueue(session, conversation, [Reply(t(key, _lang(conversation, services), **kw), buttons or [])])


def _idle_key(handoff_id: int) -> str:
    return f"handoff-idle:{handoff_id}"


def _schedule_idle(session: Session, services: "Services", handoff: HandoffSession) -> None:
    """The agent has this long to answer the waiting customer before the conversation is requeued."""
    assert handoff.awaiting_since is not None and handoff.claimed_at is not None
    start = max(handoff.awaiting_since, handoff.claimed_at)
    run_at = start + timedelta(minutes=services.settings.handoff_idle_minutes)
    jobs.schedule(session, IDLE_JOB, run_at, {"handoff_id": handoff.id}, dedupe_key=_idle_key(handoff.id))


# -- the customer side ---------------------------------------------------------------------------

def enqueue_handoff(session: Session, services: "Services", conversation: Conversation, reason: str,
                    question: str) -> tuple[HandoffSession, bool]:
    """Put the conversation in the staff queue (the caller holds its lock). Returns (handoff, new?)."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    existing = open_handoff(session, conversation.id)
    now = utcnow()
    hours = services.settings.working_hours
    is_open = hours.is_open(now)
    after_hours = not is_open or not on_duty_agents(session)
    if existing is not None:
        if question and question not in existing.question:
            existing.question = (existing.question + "\n" + question).strip()
        if existing.status == "waiting" and existing.after_hours and not after_hours:
            # Recorded while nobody was at work; staff are here now: wait live in the queue.
            existing.after_hours, conversation.mode = False, "human"
            _event(session, existing, "live")
        return existing, False
    handoff = HandoffSession(
        conversation_id=conversation.id, customer_id=conversation.customer_id, reason=reason,
        question=question, status="waiting", after_hours=after_hours, created_at=now,
        clock_start=now if is_open else hours.next_open(now), awaiting_since=now,
        first_response_target_seconds=services.settings.handoff_first_response_target_seconds,
    )
    session.add(handoff)
    session.flush()
    if not after_hours:
        conversation.mode = "human"
    _event(session, handoff, "queued", reason=reason, after_hours=after_hours)
    log.info("conversation=%s handoff=%s queued reason=%s after_hours=%s", conversation.id, handoff.id, reason,
             after_hours)
    _platform_transfer(session, services, conversation, handoff)
    return handoff, True


def _platform_transfer(session: Session, services: "Services", conversation: Conversation,
                       handoff: HandoffSession) -> None:
    transfer = services.extras.get(PLATFORM_TRANSFERS, {}).get(conversation.channel)
    if transfer is not None:
        transfer(session, conversation, handoff)


def customer_wrote(session: Session, services: "Services", conversation: Conversation, text: str,
                   button: str | None) -> list[Reply] | None:
    """The engine's hook for a message in human mode: the bot stays silent, staff see it.

    Returns the replies to send (none while a person owns the chat; a confirmation when the
    customer cancels waiting), or None when no handoff is open after all: the conversation goes
    back to the bot, which then answers the message.
    """
    handoff = open_handoff(session, conversation.id)
    if handoff is None:
        log.warning("conversation=%s in human mode without an open handoff; back to the bot", conversation.id)
        conversation.mode = "bot"
        return None
    if handoff.status == "waiting" and (button == "handoff:cancel" or text.strip().lower() in CANCEL_WORDS):
        cancel_waiting(session, services, conversation)
        return [Reply(t("handoff.cancelled", _lang(conversation, services)), menu_buttons(_lang(conversation, services)))]
    if handoff.awaiting_since is None:
        handoff.awaiting_since = utcnow()
        if handoff.status == "active":
            _schedule_idle(session, services, handoff)
    log.info("conversation=%s message relayed to staff (handoff=%s)", conversation.id, handoff.id)
    return []


def cancel_waiting(session: Session, services: "Services", conversation: Conversation) -> bool:
    """The customer no longer wants a person (only before one took the conversation)."""
    handoff = open_handoff(session, conversation.id)
    if handoff is None or handoff.status != "waiting":
        return False
    _finish(session, services, handoff, conversation, "cancelled", None)
    return True


# -- staff actions -------------------------------------------------------------------------------

def _may_act(handoff: HandoffSession, agent: StaffUser) -> None:
    if handoff.status == "closed":
        raise HandoffError("closed")
    if handoff.status != "active":
        raise HandoffError("not_taken")
    if handoff.agent_id != agent.id and not has_role(agent.role, "supervisor"):
        raise HandoffError("not_yours")


def claim(session: Session, services: "Services", handoff_id: int, agent: StaffUser) -> HandoffSession:
    """Take a waiting conversation. Of concurrent claims exactly one wins; the others get "taken"."""
    if not agent_capable(agent):
        raise HandoffError("not_agent")
    handoff = _locked(session, services, handoff_id)
    now = utcnow()
    won = session.execute(
        update(HandoffSession)
        .where(HandoffSession.id == handoff_id, HandoffSession.status == "waiting")
        .values(status="active", agent_id=agent.id, claimed_at=now, last_agent_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        raise HandoffError("taken" if handoff.status == "active" else "closed")
    session.refresh(handoff)
    conversation = handoff.conversation
    conversation.mode = "human"
    _event(session, handoff, "claimed", agent.id)
    _platform_transfer(session, services, conversation, handoff)
    if handoff.awaiting_since is not None:
        _schedule_idle(session, services, handoff)
    _tell(session, services, conversation, "handoff.agent_joined", name=agent.display_name)
    log.info("conversation=%s handoff=%s claimed by staff=%s", conversation.id, handoff.id, agent.id)
    return handoff


def reply(session: Session, services: "Services", handoff_id: int, agent: StaffUser, text: str) -> int:
    """Send the agent's words to the customer (transcript + outbox). Returns the outbox id."""
    text = text.strip()
    if not text:
        raise HandoffError("empty")
    handoff = _locked(session, services, handoff_id)
    _may_act(handoff, agent)
    now = utcnow()
    [outbox_id] = enqueue(session, handoff.conversation, [Reply(text)], sender="staff", staff_id=agent.id)
    if handoff.first_response_at is None:
        handoff.first_response_at, handoff.first_responder_id = now, agent.id
    handoff.awaiting_since, handoff.last_agent_at = None, now
    jobs.cancel(session, _idle_key(handoff.id))
    return outbox_id


def transfer(session: Session, services: "Services", handoff_id: int, agent: StaffUser, to_id: int) -> HandoffSession:
    handoff = _locked(session, services, handoff_id)
    _may_act(handoff, agent)
    target = session.get(StaffUser, to_id)
    if target is None or not agent_capable(target):
        raise HandoffError("bad_target")
    if target.id == handoff.agent_id:
        raise HandoffError("same_agent")
    _event(session, handoff, "transferred", agent.id, from_agent=handoff.agent_id, to_agent=target.id)
    handoff.agent_id, handoff.claimed_at = target.id, utcnow()
    if handoff.awaiting_since is not None:
        _schedule_idle(session, services, handoff)
    _platform_transfer(session, services, handoff.conversation, handoff)
    _tell(session, services, handoff.conversation, "handoff.transferred", name=target.display_name)
    return handoff


def release(session: Session, services: "Services", handoff_id: int, agent: StaffUser | None) -> HandoffSession:
    """Put an active conversation back in the queue (the agent gives it up, or left: ``agent`` None)."""
    handoff = _locked(session, services, handoff_id)
    if agent is not None:
        _may_act(handoff, agent)
    elif handoff.status != "active":
        raise HandoffError("not_taken")
    _event(session, handoff, "requeued", agent.id if agent else None, from_agent=handoff.agent_id,
           why="released" if agent else "idle")
    handoff.status, handoff.agent_id, handoff.requeued = "waiting", None, handoff.requeued + 1
    jobs.cancel(session, _idle_key(handoff.id))
    _platform_transfer(session, services, handoff.conversation, handoff)
    _tell(session, services, handoff.conversation, "handoff.requeued")
    return handoff


def hand_back(session: Session, services: "Services", handoff_id: int, agent: StaffUser) -> HandoffSession:
    """The bot takes the conversation again; the customer gets the menu and is asked to rate."""
    handoff = _locked(session, services, handoff_id)
    _may_act(handoff, agent)
    _finish(session, services, handoff, handoff.conversation, "handback", agent)
    return handoff


def close(session: Session, services: "Services", handoff_id: int, agent: StaffUser) -> HandoffSession:
    """The matter is done: thank the customer, ask for a rating, and let the bot serve again."""
    handoff = _locked(session, services, handoff_id)
    if handoff.status == "waiting" and has_role(agent.role, "agent"):
        # A recorded question answered with no claim, or a duplicate: close from the queue.
        handoff.agent_id = handoff.agent_id or agent.id
    else:
        _may_act(handoff, agent)
    _finish(session, services, handoff, handoff.conversation, "closed", agent)
    return handoff


def _finish(session: Session, services: "Services", handoff: HandoffSession, conversation: Conversation,
            kind: str, agent: StaffUser | None) -> None:
    handoff.status, handoff.closed_at, handoff.close_kind = "closed", utcnow(), kind
    handoff.awaiting_since = None
    conversation.mode = "bot"
    jobs.cancel(session, _idle_key(handoff.id))
    _event(session, handoff, kind, agent.id if agent else None)
    _platform_transfer(session, services, conversation, handoff)
    if kind == "cancelled":
        return
    lang = _lang(conversation, services)
    _tell(session, services, conversation, f"handoff.{kind}_bye", menu_buttons(lang))
    if handoff.first_response_at is not None:  # only a customer whom a person answered rates the help
        enqueue(session, conversation, request_rating(session, conversation, "handoff", handoff.id,
                                                      handoff.first_responder_id or handoff.agent_id,
                                                      settings=services.settings))
    log.info("conversation=%s handoff=%s %s by staff=%s", conversation.id, handoff.id, kind,
             agent.id if agent else None)


def add_note(session: Session, conversation_id: int, staff: StaffUser, text: str) -> HandoffNote:
    text = text.strip()
    if not text:
        raise HandoffError("empty")
    note = HandoffNote(conversation_id=conversation_id, staff_id=staff.id, text=text)
    session.add(note)
    session.flush()
    return note


def notes(session: Session, conversation_id: int) -> list[HandoffNote]:
    return list(session.scalars(select(HandoffNote).where(HandoffNote.conversation_id == conversation_id)
                                .order_by(HandoffNote.id)))


def canned_replies(session: Session, lang: str | None = None) -> list[CannedReply]:
    query = select(CannedReply).order_by(CannedReply.title)
    if lang:
        query = query.where((CannedReply.language == lang) | CannedReply.language.is_(None))
    return list(session.scalars(query))


def add_canned(session: Session, staff: StaffUser, title: str, text: str, lang: str | None) -> CannedReply:
    if not title.strip() or not text.strip():
        raise HandoffError("empty")
    row = CannedReply(title=title.strip()[:100], text=text.strip(), language=lang if lang in ("zh", "en") else None,
                      created_by=staff.id)
    session.add(row)
    session.flush()
    return row


def set_on_duty(session: Session, staff: StaffUser, on_duty: bool) -> None:
    """On duty feeds the wait estimate and decides whether a handoff waits or is recorded."""
    staff.on_duty = on_duty
    log.info("staff=%s on_duty=%s", staff.id, on_duty)


def run_idle(session: Session, job: Job, services: "Services") -> None:
    """Job ``handoff.idle``: the agent left the customer unanswered too long; back to the queue."""
    handoff_id = int(job.payload["handoff_id"])
    handoff = _locked(session, services, handoff_id)
    if handoff.status != "active" or handoff.awaiting_since is None or handoff.claimed_at is None:
        return
    due = max(handoff.awaiting_since, handoff.claimed_at) + timedelta(minutes=services.settings.handoff_idle_minutes)
    if utcnow() < due:
        # The job ran early (the setting grew since it was planned): look again when due.
        jobs.schedule(session, IDLE_JOB, due, {"handoff_id": handoff_id})
        return
    log.info("conversation=%s handoff=%s idle: back to the queue", handoff.conversation_id, handoff_id)
    release(session, services, handoff_id, None)


# -- figures -------------------------------------------------------------------------------------

def stats(session: Session, since: datetime, until: datetime, zone: tzinfo = timezone.utc) -> dict[str, Any]:
    """Handoff figures for the dashboard and reports: queue now, waits, first-response times
    against the target, the handoff rate, and per-agent figures for the period; ``daily``
    counts by day in ``zone``."""
    rows = list(session.scalars(
        select(HandoffSession).where(HandoffSession.created_at >= since, HandoffSession.created_at < until)
    ))
    now = utcnow()
    queue = waiting(session)
    conversations = session.scalar(
        select(func.count(func.distinct(Message.conversation_id))).where(
            Message.direction == "in", Message.created_at >= since, Message.created_at < until)
    ) or 0
    answered = [r for r in rows if r.first_response_seconds is not None]
    response = [r.first_response_seconds for r in answered if r.first_response_seconds is not None]
    waits = [(r.claimed_at - r.clock_start).total_seconds() for r in rows
             if r.claimed_at is not None and r.claimed_at >= r.clock_start]
    by_reason = {reason: sum(1 for r in rows if r.reason == reason) for reason in REASONS}
    events = list(session.execute(
        select(HandoffEvent.kind, HandoffEvent.staff_id, HandoffEvent.detail).where(
            HandoffEvent.created_at >= since, HandoffEvent.created_at < until)
    ).all())
    agents = {u.id: u for u in session.scalars(select(StaffUser))}
    per_agent: dict[int, dict[str, Any]] = {}

    def agent_row(agent_id: int) -> dict[str, Any]:
        user = agents.get(agent_id)
        return per_agent.setdefault(agent_id, {
            "agent_id": agent_id, "agent": user.display_name if user else str(agent_id),
            "on_duty": bool(user and user.on_duty), "claimed": 0, "closed": 0, "answered": 0,
            "within_target": 0, "first_response_avg_s": None, "transferred_out": 0, "requeued_idle": 0,
            "_times": [],
        })

    for kind, staff_id, detail in events:
        if kind == "claimed" and staff_id:
            agent_row(staff_id)["claimed"] += 1
        elif kind in ("closed", "handback") and staff_id:
            agent_row(staff_id)["closed"] += 1
        elif kind == "transferred" and detail.get("from_agent"):
            agent_row(detail["from_agent"])["transferred_out"] += 1
        elif kind == "requeued" and detail.get("why") == "idle" and detail.get("from_agent"):
            agent_row(detail["from_agent"])["requeued_idle"] += 1
    for r in answered:
        agent_id = r.first_responder_id
        if agent_id is None:
            continue
        row = agent_row(agent_id)
        row["answered"] += 1
        row["within_target"] += 1 if r.met_target else 0
        row["_times"].append(r.first_response_seconds)
    for row in per_agent.values():
        times = row.pop("_times")
        row["first_response_avg_s"] = round(statistics.fmean(times), 1) if times else None
    return {
        "queue_now": len(queue),
        "queue_live": sum(1 for h in queue if not h.after_hours),
        "queue_recorded": sum(1 for h in queue if h.after_hours),
        "oldest_wait_s": round(max(((now - h.clock_start).total_seconds() for h in queue), default=0.0), 1),
        "active_now": session.scalar(select(func.count()).select_from(HandoffSession)
                                     .where(HandoffSession.status == "active")) or 0,
        "agents_on_duty": len(on_duty_agents(session)),
        "handoffs": len(rows),
        "after_hours": sum(1 for r in rows if r.clock_start > r.created_at),
        "by_reason": by_reason,
        "conversations": int(conversations),
        "handoff_rate": round(len(rows) / conversations, 4) if conversations else None,
        "answered": len(answered),
        "first_response_avg_s": round(statistics.fmean(response), 1) if response else None,
        "first_response_median_s": round(statistics.median(response), 1) if response else None,
        "within_target": sum(1 for r in answered if r.met_target),
        "within_target_rate": round(sum(1 for r in answered if r.met_target) / len(answered), 4) if answered else None,
        "wait_avg_s": round(statistics.fmean(waits), 1) if waits else None,
        "wait_max_s": round(max(waits), 1) if waits else None,
        "cancelled": sum(1 for r in rows if r.close_kind == "cancelled"),
        "per_agent": sorted(per_agent.values(), key=lambda row: row["agent"]),
        "daily": _daily(rows, zone),
    }


def _daily(rows: list[HandoffSession], zone: tzinfo) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = r.created_at.astimezone(zone).date().isoformat()
        day = days.setdefault(name, {"day": name, "handoffs": 0, "answered": 0, "within_target": 0})
        day["handoffs"] += 1
        if r.first_response_seconds is not None:
            day["answered"] += 1
            day["within_target"] += 1 if r.met_target else 0
    return [days[k] for k in sorted(days)]

