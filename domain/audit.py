"""The audit log: staff actions that are not case events (a case's own history is its events).

Callers record what they did in the transaction that did it, so the record exists exactly when the
change does: logins and failed logins, staff accounts created, changed, disabled, role changes,
API tokens created and revoked, knowledge edits from the console, webhook subscriptions changed.
Admins read it in the console (/console/audit) and through the
REST API (GET /api/v1/audit). Rows are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEntry

#: What each action means; a caller may record another name (it is listed by what the log holds).
ACTIONS = {
    "staff.login": "a console login",
    "staff.login_failed": "a refused console login (detail: why); the actor is the name typed",
    "staff.logout": "a console logout (every session of the account ends)",
    "staff.created": "a staff account created (detail: role)",
    "staff.disabled": "a staff account disabled (its sessions end)",
    "staff.enabled": "a disabled staff account enabled again",
    "staff.role_changed": "a staff account's role changed (detail: from, to)",
    "staff.password_reset": "an admin set another account's password",
    "staff.password_changed": "a staff member changed their own password",
    "staff.unlocked": "an admin unlocked an account locked by failed logins",
    "api_token.created": "a REST API token created (detail: role)",
    "api_token.revoked": "a REST API token revoked",
    "knowledge.entry_created": "an FAQ entry written from the console (detail: question)",
    "webhook.subscribed": "a webhook subscription added (detail: url, events)",
    "webhook.removed": "a webhook subscription removed",
    "customer.export": "a person's data exported (detail: reason, people, files)",
    "customer.erasure": "a person's data erased (detail: reason, people, files, kept cases)",
    "customer.erasure_rejected": "a customer's erasure request rejected (detail: reason)",
}
_LENGTHS = {"actor": 200, "action": 64, "subject": 200, "address": 64}


def record(
    session: Session,
    *,
    actor: str | None,
    action: str,
    subject: str,
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction; text longer than its column is cut. Never put a
    password, token or secret in ``detail``."""
    values = {"actor": actor, "action": action, "subject": subject, "address": address}
    cut = {name: value[: _LENGTHS[name]] if value is not None else None for name, value in values.items()}
    entry = AuditEntry(**cut, detail=dict(detail or {}))
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditQuery:
    """Filters of a listing; each one left None does not filter."""

    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(session: Session, query: AuditQuery, limit: int, offset: int = 0) -> tuple[int, list[AuditEntry]]:
    """How many entries match, and one page of them, newest first."""
    since, until = (_utc(moment) for moment in (query.since, query.until))
    conditions = []
    if query.action:
        conditions.append(AuditEntry.action == query.action)
    if query.actor:
        conditions.append(AuditEntry.actor == query.actor)
    if since is not None:
        conditions.append(AuditEntry.created_at >= since)
    if until is not None:
        conditions.append(AuditEntry.created_at < until)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    )
    return total, list(rows)


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def recorded_actions(session: Session) -> list[str]:
    """Every action name the log holds, with the known ones first (for a filter's choices)."""
    held = set(session.scalars(select(AuditEntry.action).distinct()))
    return [name for name in ACTIONS if name in held] + sorted(held - set(ACTIONS))


def as_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.created_at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "detail": entry.detail,
        "address": entry.address,
    }
