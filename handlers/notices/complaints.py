"""What the customer reads when staff or the deadline job move their complaint: the stage
notice, the resolution, and the follow-up question with its "satisfied?" buttons. Queued in
the change's transaction on every way that reaches the customer (chat, and email where given)."""
from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from domain.complaints import ComplaintFollowUpAnswered, ComplaintFollowUpDue, ComplaintResolved, ComplaintStageChanged
from domain.events import EventBus
from handlers import complaint as complaint_dialog
from handlers.i18n import t
from handlers.messages import Reply
from handlers.notices.delivery import case_chat, notify_customer
from handlers.services import Services
from storage.models import Complaint, Customer


def subscribe(bus: EventBus, services: Services) -> None:
    bus.subscribe(ComplaintStageChanged, partial(tell_customer, services=services))


def replies(complaint: Complaint, event: ComplaintStageChanged) -> list[Reply]:
    """The notice of one change; none for the customer's own answer (the chat answers it)."""
    lang, ticket = complaint.language, complaint.ticket
    if isinstance(event, ComplaintFollowUpAnswered):
        return []
    if isinstance(event, ComplaintResolved):
        return [Reply(t("complaint.notify.resolved", lang, ticket=ticket, resolution=event.resolution))]
    if isinstance(event, ComplaintFollowUpDue):
        return [Reply(t("complaint.notify.follow_up", lang, ticket=ticket), complaint_dialog.follow_up_buttons(lang, ticket))]
    return [Reply(t(f"complaint.notify.{event.action}", lang, ticket=ticket))]


def tell_customer(session: Session, event: ComplaintStageChanged, *, services: Services) -> None:
    """Queue the notice in this transaction; the outbox and the job runner send after the commit."""
    complaint = session.get(Complaint, event.complaint_id)
    customer = session.get(Customer, complaint.customer_id) if complaint is not None else None
    if complaint is None or customer is None:
        return
    subject = t("complaint.notify.subject", complaint.language, ticket=complaint.ticket)
    for reply in replies(complaint, event):
        notify_customer(session, services, customer, case_chat(session, complaint.conversation_id), subject, reply)
