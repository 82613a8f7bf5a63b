"""Every label on the dashboard comes from the i18n table, in both languages: no raw key."""
from __future__ import annotations

import inspect
from datetime import timedelta

from bot.web.console.dashboard import STAT_PROVIDERS, columns, label, split
from storage.models import utcnow
from tests.testbot import TestBot


def missing_labels(figures_by_provider: dict[str, dict]) -> list[str]:
    """The dashboard keys whose label falls back to the raw key, in either language."""
    missing = []
    for provider, figures in figures_by_provider.items():
        scalars, tables = split(figures)
        keys = list(scalars) + list(tables) + [c for rows in tables.values() for c in columns(rows)]
        missing += [f"{provider}.{key} ({lang})" for key in keys for lang in ("zh", "en")
                    if label(provider, key, lang) == key.replace("_", " ")]
    return missing


def test_every_dashboard_figure_has_a_label(tmp_path):
    bot = TestBot(tmp_path)
    bot.say("营业时间是几点")
    bot.press("handoff:request")
    now = utcnow()
    with bot.runtime.services.db.session() as s:
        figures = {}
        for name, provider in STAT_PROVIDERS:
            zone = {"zone": bot.runtime.services.settings.working_hours.zone}
            extra = zone if "zone" in inspect.signature(provider).parameters else {}
            figures[name] = provider(s, now - timedelta(days=7), now + timedelta(minutes=1), **extra)
    assert missing_labels(figures) == []


#: Rows in the shapes the providers give when there is data (domain/*/figures.py, domain/ratings.py).
EXAMPLE_ROWS = {
    "ratings": {"by_agent": [{"staff_id": 1, "name": "Alice", "count": 2, "average": 4.5}],
                "by_service": [{"service": "account_opening", "count": 1, "average": 5}],
                "by_subject": {"handoff": {"count": 2, "average": 4.5}, "application": {"count": 1, "average": 5}},
                "by_day": [{"day": "2026-12-01", "count": 3, "average": 4.7}],
                "faq": {"by_entry": [{"entry_id": "fees", "helpful": 1, "not_helpful": 2}]}},
    "complaints": {"responsible_staff": [{"staff_id": 2, "name": "Bob", "complaints": 1}]},
    "handoff": {"daily": [{"day": "2026-12-01", "handoffs": 3, "answered": 2, "within_target": 1}]},
}


def test_the_rows_of_every_table_have_labels():
    assert missing_labels(EXAMPLE_ROWS) == []
