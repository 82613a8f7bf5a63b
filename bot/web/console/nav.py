"""The console's navigation: each feature lists its pages here with the roles that see them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    path: str
    label_key: str
    roles: tuple[str, ...]


NAV: list[NavItem] = [
    NavItem("/console/queue", "console.nav.queue", ("agent",)),
    NavItem("/console/canned", "console.nav.canned", ("agent",)),
    NavItem("/console/search", "console.nav.search", ("agent",)),
    NavItem("/console/knowledge", "console.nav.knowledge", ("agent", "content_manager")),
    NavItem("/console/dashboard", "console.nav.dashboard", ("supervisor",)),
    NavItem("/console/outbox", "console.nav.outbox", ("supervisor", "admin")),
    NavItem("/console/complaints", "complaint.console.nav", ("agent", "supervisor")),
    NavItem("/console/ratings", "feedback.console.nav", ("supervisor", "content_manager")),
    NavItem("/console/applications", "application.console.title", ("agent", "reviewer")),
    NavItem("/console/staff", "console.nav.staff", ("admin",)),
    NavItem("/console/webhooks", "console.nav.webhooks", ("admin",)),
    NavItem("/console/erasure", "console.nav.erasure", ("admin",)),
    NavItem("/console/audit", "console.nav.audit", ("admin",)),
    NavItem("/console/password", "console.nav.password", ("agent", "reviewer", "content_manager")),
]
