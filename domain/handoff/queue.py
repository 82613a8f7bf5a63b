"""The staff queue, read: open handoffs, who is on duty, a customer's position and wait, and
whether the desk is open (working hours decide whether a handoff waits live or is recorded)."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.settings import DeskSettings
from domain.staff import has_role
from storage.models import HandoffSession, StaffUser, utcnow

#: Closed handoffs needed before the measured handling time replaces the configured one.
MIN_SAMPLES = 5


@dataclass
class QueueInfo:
    position: int  # 1 = next to be taken
    wait_minutes: int | None  # None when nobody is on duty
    after_hours: bool
    next_open: datetime | None


@dataclass(frozen=True)
class Opening:
    """Where a handoff queued at ``now`` starts: its clock, and whether it waits for later."""

    clock_start: datetime
    after_hours: bool


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


def opening(session: Session, settings: DeskSettings, now: datetime) -> Opening:
    """Inside working hours with an agent on duty the customer waits live; otherwise the
    question is recorded and the clock starts at the next opening (or now, if open)."""
    hours = settings.working_hours
    is_open = hours.is_open(now)
    return Opening(clock_start=now if is_open else hours.next_open(now),
                   after_hours=not is_open or not on_duty_agents(session))


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


def handle_minutes(session: Session, settings: DeskSettings) -> float:
    """Average minutes an agent spends on a handoff over the last 30 days, or the setting."""
    since = utcnow() - timedelta(days=30)
    rows = session.execute(
        select(HandoffSession.claimed_at, HandoffSession.closed_at).where(
            HandoffSession.closed_at >= since, HandoffSession.claimed_at.is_not(None),
            HandoffSession.close_kind != "cancelled")
    ).all()
    spans = [(closed - claimed).total_seconds() / 60 for claimed, closed in rows if closed and claimed]
    if len(spans) < MIN_SAMPLES:
        return settings.handoff_handle_minutes
    return statistics.fmean(spans)


def queue_info(session: Session, settings: DeskSettings, handoff: HandoffSession) -> QueueInfo:
    position = queue_position(session, handoff)
    agents = len(on_duty_agents(session))
    wait = None
    if agents:
        # Every on-duty agent takes one conversation at a time; we are served in round position/agents.
        rounds = (position + agents - 1) // agents
        wait = max(1, round(rounds * handle_minutes(session, settings)))
    next_open = handoff.clock_start if handoff.clock_start > utcnow() else None
    return QueueInfo(position, wait, handoff.after_hours, next_open)
