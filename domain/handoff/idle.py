"""The idle job: an agent who leaves a waiting customer unanswered too long loses the conversation
to the queue (``BOT_HANDOFF_IDLE_MINUTES``); actions.py plans it, the job runner runs it."""
from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from domain.handoff.actions import release
from domain.handoff.ports import HandoffServices
from domain.handoff.steps import IDLE_JOB, idle_due, lock_handoff
from storage import jobs
from storage.models import Job, utcnow

log = logging.getLogger(__name__)


def run_idle(session: Session, job: Job, services: HandoffServices) -> None:
    """Job ``handoff.idle``: the agent left the customer unanswered too long; back to the queue."""
    handoff_id = int(job.payload["handoff_id"])
    handoff = lock_handoff(session, handoff_id)
    if handoff.status != "active" or handoff.awaiting_since is None or handoff.claimed_at is None:
        return
    due = idle_due(services.settings, handoff)
    if utcnow() < due:
        # The job ran early (the setting grew since it was planned): look again when due.
        jobs.schedule(session, IDLE_JOB, due, {"handoff_id": handoff_id})
        return
    log.info("conversation=%s handoff=%s idle: back to the queue", handoff.conversation_id, handoff_id)
    release(session, services, handoff_id, None, why="idle")
