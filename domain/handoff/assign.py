"""Automatic assignment (``BOT_HANDOFF_AUTO_ASSIGN``): who gets the next handoff.

The on-duty agent with the fewest open (active) conversations, below ``BOT_HANDOFF_AGENT_LIMIT``;
among equals the one assigned longest ago (round robin), then the lower id. The candidates' rows
are locked in id order before their loads are counted, so two handoffs assigned at the same time
on two workers never push one agent past the limit.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.settings import DeskSettings
from domain.staff import has_role
from storage.models import HandoffEvent, HandoffSession, StaffUser
from storage.repositories import lock_for_update

#: The trail entry of an automatic assignment (``handoff_events.kind``), also the round-robin memory.
ASSIGNED = "assigned"


def agent_loads(session: Session) -> dict[int, int]:
    """Open (active) conversations per agent id; an agent with none is absent."""
    rows = session.execute(select(HandoffSession.agent_id, func.count()).where(HandoffSession.status == "active")
                           .group_by(HandoffSession.agent_id))
    return {agent_id: count for agent_id, count in rows if agent_id is not None}


def _last_assigned(session: Session) -> dict[int, int]:
    """Per agent, the trail id of their latest automatic assignment (higher: more recent)."""
    rows = session.execute(select(HandoffEvent.staff_id, func.max(HandoffEvent.id))
                           .where(HandoffEvent.kind == ASSIGNED).group_by(HandoffEvent.staff_id))
    return {staff_id: last for staff_id, last in rows if staff_id is not None}


def _locked_candidates(session: Session) -> list[StaffUser]:
    query = (select(StaffUser).where(StaffUser.active.is_(True), StaffUser.on_duty.is_(True))
             .order_by(StaffUser.id).execution_options(populate_existing=True))
    return [u for u in session.scalars(lock_for_update(session, query)) if has_role(u.role, "agent")]


def choose_agent(session: Session, settings: DeskSettings, exclude: int | None = None) -> StaffUser | None:
    """The agent the next handoff goes to, or None when every on-duty agent is full."""
    candidates = [u for u in _locked_candidates(session) if u.id != exclude]
    loads = agent_loads(session)
    free = [u for u in candidates if loads.get(u.id, 0) < settings.handoff_agent_limit]
    if not free:
        return None
    last = _last_assigned(session)
    return min(free, key=lambda u: (loads.get(u.id, 0), last.get(u.id, 0), u.id))
