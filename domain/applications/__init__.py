"""Everything that can happen to an application, platform-free; this module is its public face.

    draft -> received (受理) -> [correction_requested (补正) -> resubmitted] -> initial_review (初审)
      -> secondary_review (复审, only for services that need it) -> approval (审批)
      -> approved -> processing (办理) -> completed (办结)          | rejected | withdrawn

- ``stages``: the stage machine as one transition table; who may make which move.
- ``changes``: submit, resubmit, transition, extend: each change checked, recorded, published.
- ``events``: what the listeners (handlers/notices/applications.py) hear about each change.
- ``drafts``: the one draft a customer puts together in the chat, deleted when abandoned.
- ``materials``: the items handed in, checked against the service (一次性告知), file access log.
- ``references``: reference numbers, check codes, finding a case, proving it is yours.
- ``deadlines``: working days, the time limit's clock (paused for a correction), the overdue job.
- ``figures``: numbers for the dashboard and the API.

Identities and personal-data masking live in domain/customers.py, the catalogue and calendar in
domain/catalogue.py. Callers import this package: ``from domain import applications as apps``.
"""
from __future__ import annotations

from domain.applications.changes import extend, resubmit, submit, transition
from domain.applications.deadlines import DEADLINE_JOB, add_working_days, deadline_job, end_of_day, local_date
from domain.applications.drafts import (
    DRAFT_EXPIRY_JOB,
    DRAFT_KEEP,
    discard_draft,
    draft_expiry_job,
    new_draft,
    open_draft,
)
from domain.applications.events import (
    ApplicationCompleted,
    ApplicationCorrectionRequested,
    ApplicationEvent,
    ApplicationExtended,
    ApplicationStageChanged,
    ApplicationSubmitted,
    StageEvent,
)
from domain.applications.figures import stats
from domain.applications.materials import (
    check_file,
    check_item,
    items_of,
    problems,
    put_item,
    record_file_access,
    text_problem,
)
from domain.applications.references import (
    REFERENCE,
    CodeCheck,
    LinkCode,
    by_reference,
    check_code,
    check_code_hash,
    customer_applications,
    issue_code_to_owner,
    owned_by,
    verify_and_link,
)
from domain.applications.stages import (
    OPEN_STAGES,
    STAGES,
    TABLE,
    TERMINAL,
    allowed_next,
    check_move,
    customer_may_withdraw,
)
from domain.transitions import SYSTEM, Actor, DomainError, IllegalTransition, InvalidRequest

__all__ = [
    "DEADLINE_JOB", "DRAFT_EXPIRY_JOB", "DRAFT_KEEP", "OPEN_STAGES", "REFERENCE", "STAGES", "SYSTEM", "TABLE",
    "TERMINAL", "Actor", "ApplicationCompleted", "ApplicationCorrectionRequested", "ApplicationEvent",
    "ApplicationExtended", "ApplicationStageChanged", "ApplicationSubmitted", "DomainError", "IllegalTransition",
    "CodeCheck", "InvalidRequest", "LinkCode", "StageEvent", "add_working_days", "allowed_next", "by_reference", "check_code", "check_code_hash",
    "check_file", "check_item", "check_move", "customer_applications", "customer_may_withdraw", "deadline_job",
    "discard_draft", "draft_expiry_job", "end_of_day", "extend", "issue_code_to_owner", "items_of", "local_date",
    "new_draft", "open_draft", "owned_by", "problems", "put_item", "record_file_access", "resubmit", "stats",
    "submit", "text_problem", "transition", "verify_and_link",
]
