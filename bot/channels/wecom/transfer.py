"""Keeping WeCom kf's own session state in step with the handoff.

When a kf customer is queued for a person, WeCom is told too (``kf/service_state/trans`` to
its queue, state 2), so the company's kf servicers can take the session in WeCom's client.
The call is a job, not a call inside the handoff's transaction: it runs after the commit,
is retried when WeCom is unreachable, and waits a few seconds so the bot's own queue notice
(sent with kf/send_msg, which WeCom refuses once a person serves the session) goes first.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from bot.channels.wecom.api import NoServicerOnDuty
from storage.jobs import schedule
from storage.models import Conversation, Job, utcnow

if TYPE_CHECKING:
    from handlers.services import Services

log = logging.getLogger(__name__)

TRANSFER_JOB = "wecom_kf.transfer"
#: Time for the outbox to deliver the queue notice before WeCom takes the session.
NOTICE_GRACE = timedelta(seconds=10)


class KfSessions(Protocol):
    """What the transfer needs of the kf channel."""

    def handoff_to_person_sync(self, chat_id: str) -> object: ...


class KfSessionTransfer:
    """The handoff's platform transfer for ``wecom_kf`` (``Services.platform_transfers``): queue the
    WeCom transfer of a waiting handoff as a job, and run that job through the worker's kf channel."""

    def __init__(self, channel: KfSessions) -> None:
        self.channel = channel

    def __call__(self, session: Session, conversation: Conversation, handoff: object) -> None:
        if getattr(handoff, "status", None) != "waiting":
            return
        schedule(session, TRANSFER_JOB, utcnow() + NOTICE_GRACE, {"chat_id": conversation.chat_id,
                                                                  "conversation_id": conversation.id},
                 dedupe_key=f"{TRANSFER_JOB}:{getattr(handoff, 'id')}")

    def run_job(self, session: Session, job: Job, services: "Services") -> None:
        """Job: move the kf session into WeCom's queue; with nobody on duty there, the console's queue serves."""
        chat_id = job.payload["chat_id"]
        session.commit()  # the WeCom client reads its shared access token from the database
        try:
            self.channel.handoff_to_person_sync(chat_id)
        except NoServicerOnDuty:
            log.warning("conversation=%s: no WeCom kf servicer on duty; the console queue keeps it",
                        job.payload.get("conversation_id"))
            return
        log.info("conversation=%s: kf session moved to WeCom's queue", job.payload.get("conversation_id"))
