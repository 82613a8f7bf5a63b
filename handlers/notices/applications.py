"""What the customer reads when their application changes: one notice per event, in the chat the
application was submitted from and in that chat's language, with the button that helps next; by
chat (and email where they gave an address), or by email only when the change is their own and the chat reply already says it.
After 办结 the customer is also asked once for a 1-5 rating (满意度调查).
"""
from __future__ import annotations

from functools import partial
from typing import Any, cast

from sqlalchemy.orm import Session

from domain.applications import (
    TERMINAL,
    ApplicationCompleted,
    ApplicationCorrectionRequested,
    ApplicationEvent,
    ApplicationExtended,
    ApplicationStageChanged,
    ApplicationSubmitted,
    StageEvent,
)
from domain.catalogue import ServiceCatalog
from domain.events import EventBus
from handlers.feedback import send_rating_request
from handlers.i18n import t
from handlers.messages import Button, Reply
from handlers.notices.delivery import EmailNotifier, case_chat, notify_customer
from handlers.services import Services
from storage.models import Application, Customer


def subscribe(bus: EventBus, services: Services) -> None:
    for kind in (ApplicationSubmitted, ApplicationStageChanged, ApplicationCorrectionRequested,
                 ApplicationCompleted, ApplicationExtended):
        bus.subscribe(kind, partial(tell_customer, services=services))
    bus.subscribe(ApplicationCompleted, partial(ask_rating, services=services))  # after the completion notice


# -- words about an application, shared with the chat handlers -----------------------------------

def stage_name(stage: str, lang: str) -> str:
    return t(f"application.stage.{stage}", lang)


def service_label(app: Application, lang: str) -> str:
    names = app.service_name or {}
    return names.get(lang) or names.get("zh") or app.service_id


def due_text(app: Application, lang: str) -> str:
    if app.due_date is None:
        return t("application.due.paused", lang) if app.stage not in TERMINAL else "-"
    return app.due_date.isoformat()


# -- listeners ------------------------------------------------------------------------------------

def tell_customer(session: Session, event: ApplicationEvent, *, services: Services) -> None:
    """Queue the notice in the customer's language on every notifier that reaches them."""
    app = session.get(Application, event.application_id)
    customer = session.get(Customer, app.customer_id) if app is not None else None
    if app is None or customer is None:
        return
    chat = case_chat(session, app.conversation_id)
    lang = (chat.language if chat is not None else None) or app.language  # they may have switched
    reply = notice(services.catalogue, app, event, lang)
    subject = t("application.notify.subject", lang, reference=app.reference, service=service_label(app, lang))
    if not (isinstance(event, StageEvent) and event.actor_kind == "customer"):
        notify_customer(session, services, customer, chat, subject, reply)
    elif services.settings.smtp_host:
        EmailNotifier().notify(session, customer, chat, subject, reply)


def ask_rating(session: Session, event: ApplicationCompleted, *, services: Services) -> None:
    """满意度调查: after 办结 the customer is asked once for a 1-5 rating of this application."""
    app = session.get(Application, event.application_id)
    conversation = case_chat(session, app.conversation_id) if app is not None else None
    if app is not None and conversation is not None:
        send_rating_request(session, services, conversation, "application", app.id,
                            service=app.service_id)


def notice(catalogue: ServiceCatalog, app: Application, event: ApplicationEvent, lang: str) -> Reply:
    """The message telling the customer about a change, with the button that helps next."""
    base: dict[str, Any] = {"reference": app.reference, "service": service_label(app, lang),
                            "due": due_text(app, lang), "stage": stage_name(app.stage, lang)}
    details = Button(t("application.button.details", lang), f"progress:show:{app.reference}")
    if isinstance(event, ApplicationExtended):
        text = t("application.notify.extended", lang, days=event.days, reason=event.reason, **base)
        return Reply(text, [details])
    event = cast(StageEvent, event)
    if isinstance(event, ApplicationCorrectionRequested):
        text = t("application.notify.correction_requested", lang, items=_correction_lines(catalogue, app, lang),
                 **base)
        buttons = [Button(t("application.button.fix", lang), f"application:fix:{app.id}")]
    elif event.to_stage == "rejected":
        text = t("application.notify.rejected", lang, reason=app.decision_reason, remedy=app.remedy, **base)
        buttons = [Button(t("application.button.apply_again", lang), "application:start")]
    elif isinstance(event, ApplicationCompleted):
        text = t("application.notify.completed", lang, follow_up=app.follow_up or "-", **base)
        buttons = [details]
    else:
        text = t(f"application.notify.{event.to_stage}", lang, **base)
        buttons = [details]
    if event.comment:
        text += "\n" + t("application.notify.comment", lang, comment=event.comment)
    return Reply(text, buttons)


def _correction_lines(catalogue: ServiceCatalog, app: Application, lang: str) -> str:
    """The items to supply or correct, numbered, each with the reviewer's note."""
    service = catalogue.get(app.service_id)
    lines = []
    for n, entry in enumerate(app.correction_items, 1):
        material = service.material(entry["material"]) if service else None
        label = material.label(lang) if material else entry["material"]
        sep = "：" if lang == "zh" else ": "
        lines.append(f"{n}. {label}" + (sep + entry["note"] if entry["note"] else ""))
    return "\n".join(lines)
