"""The outcome of an erasure, told to the customer: what was erased, which cases were kept and
why; or why their request was rejected. The dialog's own short memory of the erased chats (the
questions it failed to answer) is forgotten here too. An erased chat's id is a token by now, so the notice
goes to the address taken before the erasure (the outbox row keeps it)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from domain.customers import CustomerErased, KeptCase
from domain.erasure import ErasureRejected
from domain.events import EventBus
from handlers.handoff import failed_questions_key
from handlers.i18n import t
from handlers.messages import Reply
from handlers.services import Services
from storage.models import Conversation, ErasureRequest
from storage.outbox import enqueue
from storage.repositories import KeyValueStore

STAGE_LABELS = {"application": "application.stage.{}", "complaint": "complaint.status.{}"}


def kept_lines(cases: tuple[KeptCase, ...] | list[KeptCase], lang: str) -> str:
    """One line per kept case: kind, reference, stage and until when."""
    lines = []
    for case in cases:
        fields = {"kind": t(f"privacy.kind.{case.kind}", lang), "reference": case.reference,
                  "stage": t(STAGE_LABELS[case.kind].format(case.stage), lang)}
        if case.until is None:
            lines.append(t("privacy.erased.kept_always", lang, **fields))
        else:
            lines.append(t("privacy.erased.kept_until", lang, until=case.until.isoformat(), **fields))
    return "\n".join(lines)


def subscribe(bus: EventBus, services: Services) -> None:
    default = services.settings.default_language

    def tell_erased(session: Session, event: CustomerErased) -> None:
        store = KeyValueStore(session)
        for conversation_id in event.conversation_ids:  # the dialog's memory of what they asked
            store.remove(failed_questions_key(conversation_id))
        if event.tell is None:
            return
        lang = event.tell.language or default
        replies = [Reply(t("privacy.erased", lang))]
        if event.kept:
            replies.append(Reply(t("privacy.erased.kept", lang, cases=kept_lines(event.kept, lang))))
        conversation = session.get(Conversation, event.tell.conversation_id)
        enqueue(session, conversation, replies, address=(event.tell.channel, event.tell.chat_id))

    def tell_rejected(session: Session, event: ErasureRejected) -> None:
        request = session.get(ErasureRequest, event.request_id)
        conversation = session.get(Conversation, event.conversation_id)
        if request is None or conversation is None:
            return
        lang = conversation.language or default
        enqueue(session, conversation, [Reply(t("privacy.rejected", lang, id=request.id,
                                                reason=request.decision_reason))], sender="staff")

    bus.subscribe(CustomerErased, tell_erased)
    bus.subscribe(ErasureRejected, tell_rejected)
