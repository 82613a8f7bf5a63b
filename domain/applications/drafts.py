"""Drafts: an application being put together in the chat, before it is submitted.

A customer has at most one draft; an untouched draft is deleted after DRAFT_KEEP, so abandoned
personal data is not kept.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from domain.catalogue import Service
from domain.settings import DeskServices
from domain.transitions import IllegalTransition
from storage.jobs import schedule
from storage.models import Application, ApplicationItem, Customer, Job, utcnow

log = logging.getLogger(__name__)

DRAFT_EXPIRY_JOB = "application.draft_expiry"
#: How long an untouched draft is kept before it is deleted.
DRAFT_KEEP = timedelta(days=30)


def open_draft(session: Session, customer: Customer) -> Application | None:
    return session.scalars(select(Application).where(Application.customer_id == customer.id,
                                                     Application.stage == "draft")
                           .order_by(Application.id.desc())).first()


def new_draft(session: Session, customer: Customer, conversation_id: int, service: Service, lang: str) -> Application:
    """Start a draft; any earlier draft of the customer is discarded (one draft at a time)."""
    for old in session.scalars(select(Application).where(Application.customer_id == customer.id,
                                                         Application.stage == "draft")):
        discard_draft(session, old)
    app = Application(service_id=service.id, service_name=dict(service.name),
                      needs_secondary_review=service.needs_secondary_review,
                      time_limit_days=service.time_limit_days, customer_id=customer.id,
                      conversation_id=conversation_id, language=lang, stage="draft")
    session.add(app)
    session.flush()
    schedule(session, DRAFT_EXPIRY_JOB, utcnow() + DRAFT_KEEP, {"application_id": app.id},
             dedupe_key=f"application:{app.id}:draft")
    return app


def discard_draft(session: Session, app: Application) -> None:
    if app.stage != "draft":
        raise IllegalTransition("only a draft can be cancelled; a submitted application is withdrawn")
    session.execute(delete(ApplicationItem).where(ApplicationItem.application_id == app.id))
    session.delete(app)
    session.flush()


def draft_expiry_job(session: Session, job: Job, services: DeskServices) -> None:
    """Job: delete a draft untouched for DRAFT_KEEP; a draft still being worked on is looked at
    again DRAFT_KEEP after its last item."""
    app = session.get(Application, job.payload.get("application_id"))
    if app is None or app.stage != "draft":
        return
    last = session.scalar(select(func.max(ApplicationItem.created_at)).where(
        ApplicationItem.application_id == app.id)) or app.created_at
    if last + DRAFT_KEEP > utcnow():
        schedule(session, DRAFT_EXPIRY_JOB, last + DRAFT_KEEP, {"application_id": app.id},
                 dedupe_key=f"application:{app.id}:draft:{last.timestamp():.0f}")
        return
    discard_draft(session, app)
    log.info("abandoned draft %s deleted", job.payload.get("application_id"))
