"""The application process behind the desk, platform-free.

    draft -> received (受理) -> [correction_requested (补正) -> resubmitted] -> initial_review (初审)
      -> secondary_review (复审, only for services that need it) -> approval (审批)
      -> approved -> processing (办理) -> completed (办结)          | rejected | withdrawn

Every change goes through ``transition`` (or ``submit``/``resubmit`` for the customer's
own steps): illegal changes raise ``IllegalTransition``, each change is stored with who,
when and why, and the customer is told at once through the notifier (chat, then email).
Time limits (办理时限) count working days on the calendar in the service folder; the clock
stops while a correction is open and starts again when the customer resubmits.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from handlers.i18n import t
from storage.jobs import cancel, schedule
from handlers.messages import Button, Reply
from handlers.notices.delivery import EmailNotifier, latest_conversation, notify_customer
from storage.outbox import enqueue
from handlers.services import Services
from domain.catalogue import Calendar, Material, Service, ServiceCatalog
from storage.models import (
    Application, ApplicationExtension, ApplicationItem, ApplicationTransition, Attachment, Customer, FileAccess, Job,
    KeyValue, utcnow,
)

log = logging.getLogger(__name__)

STAGES = ("draft", "received", "correction_requested", "resubmitted", "initial_review", "secondary_review",
          "approval", "approved", "rejected", "processing", "completed", "withdrawn")
TERMINAL = frozenset({"completed", "rejected", "withdrawn"})
#: Stages a staff member (or back-office system) may move an application to, from each stage.
NEXT: dict[str, frozenset[str]] = {
    "received": frozenset({"correction_requested", "initial_review", "withdrawn"}),
    "correction_requested": frozenset({"resubmitted", "withdrawn"}),
    "resubmitted": frozenset({"correction_requested", "initial_review", "withdrawn"}),
    "initial_review": frozenset({"correction_requested", "secondary_review", "approval", "withdrawn"}),
    "secondary_review": frozenset({"correction_requested", "approval", "withdrawn"}),
    "approval": frozenset({"approved", "rejected", "withdrawn"}),
    "approved": frozenset({"processing"}),
    "processing": frozenset({"completed"}),
}
#: Only the customer makes these moves, in the chat (supplying the named items, or withdrawing).
CUSTOMER_ONLY = frozenset({"resubmitted"})
DEADLINE_JOB = "application.deadline"
DRAFT_EXPIRY_JOB = "application.draft_expiry"
#: How long an untouched draft is kept before it is deleted.
DRAFT_KEEP = timedelta(days=30)
REFERENCE = re.compile(r"\b([A-Za-z]{2,4})-(\d{8})-([2-9A-HJ-NP-Za-hj-np-z]{4})\b")
_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CATALOG_KEY = "applications.catalog"


class ApplicationError(Exception):
    """A request about an application that cannot be carried out; the message says why."""


class IllegalTransition(ApplicationError):
    """The stage change is not allowed from where the application is (HTTP 409)."""


class InvalidRequest(ApplicationError):
    """The change is allowed but the request lacks something (a reason, the items; HTTP 422)."""


@dataclass(frozen=True)
class Actor:
    kind: str  # customer | staff | system
    name: str
    staff_id: int | None = None


SYSTEM = Actor("system", "system")


# -- the catalogue and the calendar -------------------------------------------------------------

def catalog(services: Services) -> ServiceCatalog:
    """The service catalogue of this process, built on first use from BOT_KNOWLEDGE_DIR/services."""
    found = services.extras.get(CATALOG_KEY)
    if found is None:
        settings = services.settings
        found = ServiceCatalog(settings.knowledge_dir / "services", settings.max_upload_bytes / (1024 * 1024))
        services.extras[CATALOG_KEY] = found
    return found


def add_working_days(start: date, days: int, calendar: Calendar) -> date:
    """The ``days``-th working day after ``start`` (the start day itself does not count)."""
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def local_date(moment: datetime, calendar: Calendar) -> date:
    return moment.astimezone(ZoneInfo(calendar.timezone)).date()


def end_of_day(day: date, calendar: Calendar) -> datetime:
    """The instant a due date ends: midnight after it, local time, as UTC-aware."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(calendar.timezone)).astimezone(
        ZoneInfo("UTC"))


# -- personal data --------------------------------------------------------------------------------

def mask(value: str | None, how: str) -> str | None:
    """ID numbers keep 3 + 4 characters, phone numbers 3 + 4 digits; other values are shown."""
    if value is None or how == "none":
        return value
    if how == "id":
        return value[:3] + "*" * max(len(value) - 7, 3) + value[-4:] if len(value) > 7 else "*" * len(value)
    if how == "phone":
        return value[:3] + "****" + value[-4:] if len(value) > 7 else "*" * len(value)
    return value


# -- lookups ----------------------------------------------------------------------------------------

def person_ids(customer: Customer):  # type: ignore[no-untyped-def]
    """A subquery of every customer id linked to the same person."""
    person = customer.person
    return select(Customer.id).where(or_(Customer.id == person, Customer.person_id == person))


def by_reference(session: Session, reference: str, lock: bool = False) -> Application | None:
    query = select(Application).where(Application.reference == reference.strip().upper())
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def customer_applications(session: Session, customer: Customer) -> list[Application]:
    """The person's submitted applications, over all linked identities, newest first."""
    return list(session.scalars(
        select(Application).where(Application.customer_id.in_(person_ids(customer)), Application.stage != "draft")
        .order_by(Application.submitted_at.desc(), Application.id.desc())
    ))


def owned_by(session: Session, customer: Customer, reference: str, lock: bool = False) -> Application | None:
    """The application with this reference only if it belongs to the customer (or a linked identity);
    ``lock`` holds its row (PostgreSQL) so a staff change cannot interleave with the customer's."""
    app = by_reference(session, reference, lock=lock)
    if app is None or app.stage == "draft":
        return None
    owner = session.get(Customer, app.customer_id)
    return app if owner is not None and owner.person == customer.person else None


def check_code_hash(reference: str, code: str) -> str:
    return hashlib.sha256(f"{reference.upper()}:{code.strip()}".encode()).hexdigest()


def link_identities(session: Session, a: Customer, b: Customer) -> int:
    """Make two identities one person: every identity of either now shares the older person id."""
    root, other = sorted({a.person, b.person})[0], sorted({a.person, b.person})[-1]
    if root == other:
        return root
    for customer in session.scalars(select(Customer).where(or_(Customer.id == other, Customer.person_id == other))):
        customer.person_id = root
    root_customer = session.get(Customer, root)
    if root_customer is not None:
        root_customer.person_id = None
    session.flush()
    return root


LINK_CODE_TTL = timedelta(minutes=10)


def _link_code_key(app: Application) -> str:
    return f"applications.link_code:{app.id}"


def send_link_code(session: Session, services: Services, requester: Customer, reference: str) -> None:
    """Send a one-time code to the chat the application's owner used, for a customer who lost the check
    code. Silent when the reference is unknown (no way to probe numbers); one code per case per 10 minutes,
    so nobody can flood the owner's chat."""
    app = by_reference(session, reference)
    if app is None or app.stage == "draft":
        return
    owner = session.get(Customer, app.customer_id)
    if owner is None or owner.person == requester.person:
        return
    now = utcnow()
    row = session.get(KeyValue, _link_code_key(app))
    if row is not None and row.expires_at is not None and row.expires_at > now:
        return
    conversation = latest_conversation(session, owner)
    if conversation is None:
        return
    code = f"{secrets.randbelow(1_000_000):06d}"
    if row is None:
        row = KeyValue(key=_link_code_key(app), value={})
        session.add(row)
    row.value = {"hash": check_code_hash(app.reference or "", code), "person": requester.person}
    row.expires_at = now + LINK_CODE_TTL
    lang = conversation.language or app.language
    enqueue(session, conversation, [Reply(t("progress.link_code", lang, reference=app.reference, code=code,
                                            minutes=int(LINK_CODE_TTL.total_seconds() // 60)))])
    log.info("link code sent for application %s to its owner's chat", app.id)


def verify_and_link(session: Session, customer: Customer, reference: str, code: str) -> Application | None:
    """The application if ``code`` is its check code (or a one-time code sent for this customer); the
    customer's identity is then linked to its owner's."""
    app = by_reference(session, reference)
    if app is None or app.stage == "draft" or app.check_code_hash is None:
        return None
    digest = check_code_hash(app.reference or "", code)
    if not secrets.compare_digest(app.check_code_hash, digest):
        row = session.get(KeyValue, _link_code_key(app))
        if (row is None or row.expires_at is None or row.expires_at <= utcnow()
                or row.value.get("person") != customer.person
                or not secrets.compare_digest(str(row.value.get("hash", "")), digest)):
            return None
        session.delete(row)
    owner = session.get(Customer, app.customer_id)
    if owner is not None:
        link_identities(session, customer, owner)
        session.refresh(customer)
    log.info("identity linked by code: customer=%s application=%s", customer.id, app.id)
    return app


# -- materials --------------------------------------------------------------------------------------

def items_of(session: Session, app: Application, statuses: tuple[str, ...] = ("current",)) -> dict[str, ApplicationItem]:
    """material id -> its item with one of ``statuses`` (later statuses in the tuple win)."""
    found: dict[str, ApplicationItem] = {}
    rows = session.scalars(select(ApplicationItem).where(ApplicationItem.application_id == app.id,
                                                         ApplicationItem.status.in_(statuses))
                           .order_by(ApplicationItem.id))
    rank = {s: i for i, s in enumerate(statuses)}
    for row in rows:
        old = found.get(row.material_id)
        if old is None or rank[row.status] >= rank[old.status]:
            found[row.material_id] = row
    return found


def check_file(material: Material, attachment: Attachment) -> str | None:
    """None if the file fits the material, else the reason key (``bad_type``, ``too_large``)."""
    if not material.mime_allowed(attachment.mime):
        return "bad_type"
    if material.max_mb is not None and attachment.size > material.max_mb * 1024 * 1024:
        return "too_large"
    return None


def check_item(session: Session, material: Material, item: ApplicationItem | None) -> str | None:
    """None if the item is acceptable for the material; else ``missing``, ``bad_type``, ``too_large`` or ``bad_format``."""
    if item is None:
        return "missing" if material.required else None
    if item.kind == "text":
        if not material.takes_text:
            return "bad_type"
        return None if material.text_ok(item.value or "") else "bad_format"
    attachment = session.get(Attachment, item.attachment_id) if item.attachment_id else None
    if attachment is None:
        return "missing"
    return check_file(material, attachment)


def problems(session: Session, app: Application, service: Service,
             statuses: tuple[str, ...] = ("current",), only: list[str] | None = None) -> list[tuple[Material, str]]:
    """Everything missing or wrong, in the service's order (for 一次性告知)."""
    items = items_of(session, app, statuses)
    found = []
    for material in service.materials:
        if only is not None and material.id not in only:
            continue
        reason = check_item(session, material, items.get(material.id))
        if reason is None and only is not None and material.id not in items:
            reason = "missing"
        if reason is not None:
            found.append((material, reason))
    return found


def put_item(session: Session, app: Application, material: Material, *, value: str | None = None,
             attachment: Attachment | None = None, status: str = "current") -> ApplicationItem:
    """Store a material, replacing an earlier one with the same status."""
    _drop_item(session, app, material.id, status)
    item = ApplicationItem(application_id=app.id, material_id=material.id,
                           kind="file" if attachment is not None else "text",
                           attachment_id=attachment.id if attachment is not None else None,
                           value=value, status=status)
    session.add(item)
    if material.notify_email and value:
        app.email = value
    session.flush()
    return item


def _drop_item(session: Session, app: Application, material_id: str, status: str = "current") -> None:
    session.execute(delete(ApplicationItem).where(
        ApplicationItem.application_id == app.id, ApplicationItem.material_id == material_id,
        ApplicationItem.status == status))


# -- drafts and submission -------------------------------------------------------------------------

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


def draft_expiry_job(session: Session, job: Job, services: Services) -> None:
    """Job: delete a draft untouched for DRAFT_KEEP, so abandoned personal data is not kept; a draft
    still being worked on is looked at again DRAFT_KEEP after its last item."""
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


def discard_draft(session: Session, app: Application) -> None:
    if app.stage != "draft":
        raise IllegalTransition("only a draft can be cancelled; a submitted application is withdrawn")
    session.execute(delete(ApplicationItem).where(ApplicationItem.application_id == app.id))
    session.delete(app)
    session.flush()


def _new_reference(session: Session, service: Service, today: date) -> str:
    while True:
        suffix = "".join(secrets.choice(_REF_ALPHABET) for _ in range(4))
        reference = f"{service.code}-{today:%Y%m%d}-{suffix}"
        if session.scalars(select(Application.id).where(Application.reference == reference)).first() is None:
            return reference


def submit(session: Session, services: Services, app: Application, service: Service) -> str:
    """Turn a complete draft into a received application; returns the check code (shown once)."""
    if app.stage != "draft":
        raise IllegalTransition(f"application {app.reference or app.id} is submitted already")
    missing = problems(session, app, service)
    if missing:
        raise InvalidRequest("still missing or wrong: " + ", ".join(m.id for m, _ in missing))
    calendar = catalog(services).calendar
    now = utcnow()
    code = f"{secrets.randbelow(1_000_000):06d}"
    app.reference = _new_reference(session, service, local_date(now, calendar))
    app.check_code_hash = check_code_hash(app.reference, code)
    app.submitted_at = now
    customer = session.get(Customer, app.customer_id)
    if customer is not None and app.email:
        customer.email = app.email
    _record(session, app, "received", Actor("customer", f"customer:{app.customer_id}"), None, {})
    _start_clock(session, app, calendar, now)
    _notify(session, services, app, "received", {}, chat=False)
    log.info("application %s submitted (service %s)", app.reference, app.service_id)
    return code


def resubmit(session: Session, services: Services, app: Application, service: Service | None) -> None:
    """The customer supplied every item named in the correction request."""
    if app.stage != "correction_requested":
        raise IllegalTransition(f"{app.reference} is not waiting for a correction")
    named = [c["material"] for c in app.correction_items]
    pending = items_of(session, app, ("pending",))
    if service is not None:
        wrong = problems(session, app, service, ("pending",), only=named)
        if wrong:
            raise InvalidRequest("still missing or wrong: " + ", ".join(m.id for m, _ in wrong))
    elif any(mid not in pending for mid in named):
        raise InvalidRequest("still missing: " + ", ".join(mid for mid in named if mid not in pending))
    for mid, item in pending.items():
        for old in session.scalars(select(ApplicationItem).where(
                ApplicationItem.application_id == app.id, ApplicationItem.material_id == mid,
                ApplicationItem.status == "current")):
            old.status = "superseded"
        item.status = "current"
    if app.email:
        customer = session.get(Customer, app.customer_id)
        if customer is not None:
            customer.email = app.email
    _record(session, app, "resubmitted", Actor("customer", f"customer:{app.customer_id}"), None,
            {"items": named})
    app.correction_items = []
    _start_clock(session, app, catalog(services).calendar, utcnow())
    _notify(session, services, app, "resubmitted", {}, chat=False)


# -- stage changes ----------------------------------------------------------------------------------

def allowed_next(app: Application) -> list[str]:
    """Where staff may move the application now (for buttons and error messages)."""
    options = set(NEXT.get(app.stage, frozenset())) - CUSTOMER_ONLY
    if app.stage == "initial_review":
        options.discard("approval" if app.needs_secondary_review else "secondary_review")
    return [s for s in STAGES if s in options]


def transition(session: Session, services: Services, app: Application, to: str, actor: Actor, *,
               comment: str | None = None, reason: str | None = None, remedy: str | None = None,
               follow_up: str | None = None, items: list[dict[str, str]] | None = None,
               tell_chat: bool = True) -> ApplicationTransition:
    """Move the application to ``to``; refuses illegal moves, records the change and tells the customer
    (``tell_chat=False`` when the change is the customer's own and the chat reply already says it)."""
    if to not in STAGES:
        raise InvalidRequest(f"unknown stage {to!r}; stages are {', '.join(STAGES[1:])}")
    if app.stage == "draft":
        raise IllegalTransition("the application has not been submitted yet")
    if to in CUSTOMER_ONLY and actor.kind != "customer":
        raise IllegalTransition(f"only the customer moves an application to {to!r}, by supplying the named items")
    allowed = set(NEXT.get(app.stage, frozenset()))
    if to not in allowed:
        options = ", ".join(allowed_next(app)) or "none (it is closed)"
        raise IllegalTransition(f"{app.reference} cannot go from {app.stage} to {to}; allowed next: {options}")
    if app.stage == "initial_review" and to == "secondary_review" and not app.needs_secondary_review:
        raise IllegalTransition(f"{app.reference}: this service has no secondary review; move it to approval")
    if app.stage == "initial_review" and to == "approval" and app.needs_secondary_review:
        raise IllegalTransition(f"{app.reference}: this service needs the secondary review (复审) before approval")
    details: dict[str, Any] = {}
    if to == "correction_requested":
        details["items"] = _correction_items(session, services, app, items)
        app.correction_items = details["items"]
    elif items:
        raise InvalidRequest("items are named only with a correction request")
    if to == "rejected":
        if not (reason and reason.strip()) or not (remedy and remedy.strip()):
            raise InvalidRequest("a rejection needs a reason and what the customer can do (remedy)")
        app.decision_reason, app.remedy = reason.strip(), remedy.strip()
        details.update(reason=app.decision_reason, remedy=app.remedy)
    if to == "completed":
        service = catalog(services).get(app.service_id)
        text = (follow_up or "").strip() or (service.text("follow_up", app.language) if service else "")
        app.follow_up = text or None
        details["follow_up"] = app.follow_up
    if to == "approved" and reason:
        app.decision_reason = reason.strip()
    row = _record(session, app, to, actor, comment, details)
    if to == "correction_requested":
        _pause_clock(session, app)
    if to in TERMINAL:
        app.closed_at = utcnow()
        cancel(session, _job_key(app))
        if to == "withdrawn":
            session.execute(delete(ApplicationItem).where(ApplicationItem.application_id == app.id,
                                                          ApplicationItem.status == "pending"))
    _notify(session, services, app, to, {"comment": comment or ""}, chat=tell_chat)
    if to == "completed":
        _ask_satisfaction(session, services, app)
    log.info("application %s: %s -> %s by %s", app.reference, row.from_stage, to, actor.kind)
    return row


def extend(session: Session, services: Services, app: Application, days: int, reason: str,
           actor: Actor) -> ApplicationExtension:
    """Extend the time limit by working days; the customer is told the reason."""
    if app.stage == "draft" or app.stage in TERMINAL:
        raise IllegalTransition(f"{app.reference or app.id} is not open; its time limit cannot be extended")
    if app.due_date is None:
        raise IllegalTransition(f"{app.reference}: the time limit is paused while a correction is open")
    if not 1 <= days <= 60:
        raise InvalidRequest("an extension is 1 to 60 working days")
    if not reason or not reason.strip():
        raise InvalidRequest("an extension needs a reason; it is told to the customer")
    calendar = catalog(services).calendar
    old = app.due_date
    new = add_working_days(old, days, calendar)
    row = ApplicationExtension(application_id=app.id, days=days, reason=reason.strip(), old_due_date=old,
                               new_due_date=new, actor_name=actor.name, staff_id=actor.staff_id)
    session.add(row)
    _set_due(session, app, new, calendar)
    _notify(session, services, app, "extended", {"days": days, "reason": reason.strip()})
    log.info("application %s extended by %d working days", app.reference, days)
    return row


def record_file_access(session: Session, app: Application, item: ApplicationItem, actor: Actor, action: str,
                       via: str) -> None:
    """Every staff view or download of a case's file is recorded: who, when, which file."""
    if item.attachment_id is None:
        raise InvalidRequest("this material is a typed value, not a file")
    session.add(FileAccess(application_id=app.id, item_id=item.id, attachment_id=item.attachment_id, action=action,
                           actor_name=actor.name, staff_id=actor.staff_id, via=via))


def _correction_items(session: Session, services: Services, app: Application,
                      items: list[dict[str, str]] | None) -> list[dict[str, str]]:
    if not items:
        raise InvalidRequest("a correction request must name the items to supply or correct")
    service = catalog(services).get(app.service_id)
    known = {m.id for m in service.materials} if service else set(items_of(session, app))
    out, seen = [], set()
    for entry in items:
        mid = str(entry.get("material", "")).strip()
        if mid not in known:
            raise InvalidRequest(f"{mid!r} is not a material of this service; known: {', '.join(sorted(known))}")
        if mid in seen:
            continue
        seen.add(mid)
        out.append({"material": mid, "note": str(entry.get("note") or "").strip()})
    if service is not None:  # the customer is walked through them in the order of the checklist
        order = {m.id: n for n, m in enumerate(service.materials)}
        out.sort(key=lambda e: order.get(e["material"], len(order)))
    return out


def _record(session: Session, app: Application, to: str, actor: Actor, comment: str | None,
            details: dict[str, Any]) -> ApplicationTransition:
    row = ApplicationTransition(application_id=app.id, from_stage=app.stage, to_stage=to, actor_kind=actor.kind,
                                actor_name=actor.name, staff_id=actor.staff_id, comment=(comment or None),
                                details=details)
    session.add(row)
    app.stage, app.stage_changed_at = to, utcnow()
    session.flush()
    return row


# -- time limits ------------------------------------------------------------------------------------

def _job_key(app: Application) -> str:
    return f"application:{app.id}:deadline"


def _set_due(session: Session, app: Application, due: date, calendar: Calendar) -> None:
    app.due_date, app.due_at = due, end_of_day(due, calendar)
    app.overdue = app.due_at <= utcnow()
    schedule(session, DEADLINE_JOB, app.due_at, {"application_id": app.id}, dedupe_key=_job_key(app))


def _start_clock(session: Session, app: Application, calendar: Calendar, now: datetime) -> None:
    """The time limit runs from the day complete materials arrive, plus any extensions given."""
    extra = session.scalar(select(func.coalesce(func.sum(ApplicationExtension.days), 0))
                           .where(ApplicationExtension.application_id == app.id)) or 0
    _set_due(session, app, add_working_days(local_date(now, calendar), app.time_limit_days + int(extra), calendar),
             calendar)


def _pause_clock(session: Session, app: Application) -> None:
    app.due_date, app.due_at, app.overdue = None, None, False
    cancel(session, _job_key(app))


def deadline_job(session: Session, job: Job, services: Services) -> None:
    """Job: flag the application overdue if it is still open when its time limit ends."""
    app = session.get(Application, job.payload.get("application_id"))
    if app is None or app.stage in TERMINAL or app.stage == "draft" or app.due_at is None:
        return
    if app.due_at <= utcnow() and not app.overdue:
        app.overdue = True
        log.warning("application %s is overdue (due %s)", app.reference, app.due_date)


# -- telling the customer ---------------------------------------------------------------------------

def stage_name(stage: str, lang: str) -> str:
    return t(f"application.stage.{stage}", lang)


def service_label(app: Application, lang: str) -> str:
    names = app.service_name or {}
    return names.get(lang) or names.get("zh") or app.service_id


def _ask_satisfaction(session: Session, services: Services, app: Application) -> None:
    """满意度调查: after 办结 the customer is asked once for a 1-5 rating of this application."""
    from handlers.feedback import send_rating_request

    customer = session.get(Customer, app.customer_id)
    conversation = latest_conversation(session, customer) if customer is not None else None
    if conversation is not None:
        send_rating_request(session, services, conversation, "application", app.id, service=app.service_id)


def due_text(app: Application, lang: str) -> str:
    if app.due_date is None:
        return t("application.due.paused", lang) if app.stage not in TERMINAL else "-"
    return app.due_date.isoformat()


def _notify(session: Session, services: Services, app: Application, event_name: str, extra: dict[str, Any],
            chat: bool = True) -> None:
    """Queue the notice in the customer's language on every notifier that reaches them."""
    customer = session.get(Customer, app.customer_id)
    if customer is None:
        return
    chat_now = latest_conversation(session, customer)
    lang = (chat_now.language if chat_now is not None else None) or app.language  # they may have switched
    reply = notice(session, services, app, event_name, lang, extra)
    subject = t("application.notify.subject", lang, reference=app.reference, service=service_label(app, lang))
    if chat:
        notify_customer(session, services, customer, subject, reply)
    elif services.settings.smtp_host:
        EmailNotifier().notify(session, customer, subject, reply)


def notice(session: Session, services: Services, app: Application, event_name: str, lang: str,
           extra: dict[str, Any]) -> Reply:
    """The message telling the customer about a change, with the button that helps next."""
    base = {"reference": app.reference, "service": service_label(app, lang), "due": due_text(app, lang),
            "stage": stage_name(app.stage, lang)}
    comment = extra.get("comment") or ""
    if event_name == "correction_requested":
        service = catalog(services).get(app.service_id)
        lines = []
        for n, entry in enumerate(app.correction_items, 1):
            material = service.material(entry["material"]) if service else None
            label = material.label(lang) if material else entry["material"]
            sep = "：" if lang == "zh" else ": "
            lines.append(f"{n}. {label}" + (sep + entry["note"] if entry["note"] else ""))
        text = t("application.notify.correction_requested", lang, items="\n".join(lines), **base)
        buttons = [Button(t("application.button.fix", lang), f"application:fix:{app.id}")]
    elif event_name == "rejected":
        text = t("application.notify.rejected", lang, reason=app.decision_reason, remedy=app.remedy, **base)
        buttons = [Button(t("application.button.apply_again", lang), "application:start")]
    elif event_name == "completed":
        text = t("application.notify.completed", lang, follow_up=app.follow_up or "-", **base)
        buttons = [Button(t("application.button.details", lang), f"progress:show:{app.reference}")]
    elif event_name == "extended":
        text = t("application.notify.extended", lang, days=extra["days"], reason=extra["reason"], **base)
        buttons = [Button(t("application.button.details", lang), f"progress:show:{app.reference}")]
    else:
        text = t(f"application.notify.{event_name}", lang, **base)
        buttons = [Button(t("application.button.details", lang), f"progress:show:{app.reference}")]
    if comment:
        text += "\n" + t("application.notify.comment", lang, comment=comment)
    return Reply(text, buttons)


# -- figures for the supervisors' dashboard --------------------------------------------------------

def stats(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Applications submitted in [since, until) by current stage; open and overdue now; and time-limit
    compliance of those closed in the window (closed on or before their due time)."""
    submitted = (Application.submitted_at >= since) & (Application.submitted_at < until)
    by_stage = {stage: 0 for stage in STAGES[1:]}
    for stage, count in session.execute(select(Application.stage, func.count()).where(submitted)
                                        .group_by(Application.stage)):
        by_stage[stage] = count
    open_now = (Application.stage.not_in(TERMINAL | {"draft"}))
    open_count = session.scalar(select(func.count()).select_from(Application).where(open_now)) or 0
    overdue = session.scalar(select(func.count()).select_from(Application).where(
        open_now, or_(Application.overdue.is_(True), Application.due_at <= utcnow()))) or 0
    closed_rows = session.execute(select(Application.closed_at, Application.due_at, Application.stage).where(
        Application.closed_at >= since, Application.closed_at < until,
        Application.stage.in_(("completed", "rejected")))).all()
    in_time = sum(1 for closed, due, _ in closed_rows if due is not None and closed <= due)
    return {
        "submitted": sum(by_stage.values()),
        "by_stage": by_stage,
        "open": open_count,
        "overdue": overdue,
        "closed": len(closed_rows),
        "closed_in_time": in_time,
        "compliance": (in_time / len(closed_rows)) if closed_rows else None,
    }
