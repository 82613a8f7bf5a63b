"""The balance job (``handoff.balance``), automatic assignment's catch-up: when an agent goes off
duty, or capacity frees up (a close, a transfer), their conversations go to other agents and the
queue is filled, oldest first, until every on-duty agent is at the limit.

A conversation another transaction holds is skipped (``try_lock_handoff``) and the job looks
again shortly, so it never waits on a lock while holding the agents' rows.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.handoff.actions import assign_waiting, release
from domain.handoff.ports import HandoffServices
from domain.handoff.queue import waiting
from domain.handoff.steps import BALANCE_JOB, try_lock_handoff
from storage import jobs
from storage.models import HandoffSession, Job, StaffUser, utcnow

log = logging.getLogger(__name__)

#: How soon the job looks again at conversations that were busy (locked) on this run.
RETRY_SECONDS = 5


def _held_by_absent_agents(session: Session) -> list[int]:
    """Active handoffs whose agent went off duty (or was deactivated)."""
    return list(session.scalars(
        select(HandoffSession.id).join(StaffUser, StaffUser.id == HandoffSession.agent_id)
        .where(HandoffSession.status == "active", (StaffUser.on_duty.is_(False)) | (StaffUser.active.is_(False)))
        .order_by(HandoffSession.id)))


def run_balance(session: Session, job: Job, services: HandoffServices) -> None:
    if not services.settings.handoff_auto_assign:
        return
    busy = False
    for handoff_id in _held_by_absent_agents(session):
        handoff = try_lock_handoff(session, handoff_id)
        if handoff is None:
            busy = True
        elif handoff.status == "active":
            log.info("handoff=%s: agent %s is off duty, reassigning", handoff_id, handoff.agent_id)
            release(session, services, handoff_id, None, why="off_duty")
    for queued in [h.id for h in waiting(session)]:
        handoff = try_lock_handoff(session, queued)
        if handoff is None:
            busy = True
        elif handoff.status == "waiting" and assign_waiting(session, services, handoff) is None:
            break  # every agent is full (or the desk is closed): the rest wait in the queue
    if busy:
        jobs.schedule(session, BALANCE_JOB, utcnow() + timedelta(seconds=RETRY_SECONDS), dedupe_key="handoff-balance")
