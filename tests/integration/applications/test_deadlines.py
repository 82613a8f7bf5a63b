"""办理时限: working days over weekends, holidays and make-up workdays; extensions told to the
customer; overdue applications flagged by the deadline job."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from domain import applications as apps
from domain.catalogue import Calendar
from storage.models import Application, Job
from tests.integration.applications.helpers import Chat
from tests.integration.applications.test_chat_flow import submit_account_opening

CAL = Calendar(holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5), date(2026, 10, 6),
                                   date(2026, 10, 7)}),
               workdays=frozenset({date(2026, 9, 20), date(2026, 10, 10)}))


def test_weekend_is_skipped():
    friday = date(2026, 11, 20)
    assert apps.add_working_days(friday, 1, Calendar()) == date(2026, 11, 23)  # Monday
    assert apps.add_working_days(friday, 3, Calendar()) == date(2026, 11, 25)


def test_holidays_and_make_up_workdays():
    assert apps.add_working_days(date(2026, 9, 30), 2, CAL) == date(2026, 10, 9)  # over the National Day week
    assert apps.add_working_days(date(2026, 9, 30), 3, CAL) == date(2026, 10, 10)  # a Saturday that is a workday
    assert apps.add_working_days(date(2026, 9, 18), 1, CAL) == date(2026, 9, 20)  # a Sunday that is a workday


def test_due_date_ends_at_local_midnight():
    assert apps.end_of_day(date(2026, 11, 30), Calendar()) == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)


def test_shipped_calendar_is_used_for_submissions(runtime):
    chat = Chat(runtime)
    submit_account_opening(chat)
    calendar = runtime.services.catalogue.calendar
    assert not calendar.is_working_day(date(2026, 10, 1)) and calendar.is_working_day(date(2026, 10, 10))
    with runtime.services.db.session() as s:
        app = s.scalars(select(Application)).one()
        today = apps.local_date(app.submitted_at, calendar)
        assert app.due_date == apps.add_working_days(today, 3, calendar)
        job = s.scalars(select(Job).where(Job.kind == apps.DEADLINE_JOB)).one()
        assert job.run_at == app.due_at and job.status == "pending"


def test_extension_is_told_and_overdue_is_flagged(runtime, api, tokens):
    chat = Chat(runtime)
    reference, _ = submit_account_opening(chat)
    base = f"/api/v1/applications/{reference}"
    before = api.get(base, headers=tokens["reviewer"]).json()["due_date"]
    assert api.post(f"{base}/extensions", headers=tokens["reviewer"], json={"days": 2, "reason": ""}).status_code == 422
    response = api.post(f"{base}/extensions", headers=tokens["reviewer"],
                        json={"days": 2, "reason": "需要向发证机关核实证件信息"})
    assert response.status_code == 200
    after = response.json()["due_date"]
    calendar = runtime.services.catalogue.calendar
    assert after == apps.add_working_days(date.fromisoformat(before), 2, calendar).isoformat()
    notice = chat.outbox_texts()[-1]
    assert "延长 2 个工作日" in notice and "需要向发证机关核实证件信息" in notice and after in notice

    # time passes: the deadline job runs and flags the application for staff
    with runtime.services.db.session() as s:
        app = s.scalars(select(Application)).one()
        app.due_at = datetime.now(timezone.utc) - timedelta(minutes=1)
        s.scalars(select(Job).where(Job.kind == apps.DEADLINE_JOB)).one().run_at = app.due_at
    assert runtime.jobs.run_due() == 1
    with runtime.services.db.session() as s:
        assert s.scalars(select(Application)).one().overdue is True
    late = api.get("/api/v1/applications", params={"overdue": "true"}, headers=tokens["reviewer"]).json()
    assert [a["reference"] for a in late["items"]] == [reference] and late["items"][0]["overdue"]
    assert api.get("/api/v1/applications", params={"overdue": "false"}, headers=tokens["reviewer"]).json()["total"] == 0
    assert "已超期" in chat.press("progress:list")[0].text
    stats = api.get("/api/v1/applications/stats", headers=tokens["supervisor"]).json()
    assert stats["overdue"] == 1

    # a correction pauses the clock; closed applications cannot be extended
    api.post(f"{base}/correction", headers=tokens["reviewer"], json={"items": [{"material": "mobile"}]})
    paused = api.post(f"{base}/extensions", headers=tokens["reviewer"], json={"days": 1, "reason": "x"})
    assert paused.status_code == 409 and "paused" in paused.json()["error"]
    with runtime.services.db.session() as s:
        app = s.scalars(select(Application)).one()
        assert app.overdue is False and app.due_at is None


def test_stats_count_stages_overdue_and_compliance(runtime):
    first, second = Chat(runtime, chat_id="a", user_id="a"), Chat(runtime, chat_id="b", user_id="b")
    ref_a, _ = submit_account_opening(first)
    ref_b, _ = submit_account_opening(second)
    staff = apps.Actor("staff", "rita")
    with runtime.services.db.session() as s:
        app = apps.by_reference(s, ref_a)
        for stage in ("initial_review", "approval", "approved", "processing", "completed"):
            apps.transition(s, runtime.services, app, stage, staff)
        late = apps.by_reference(s, ref_b)
        late.due_at = datetime.now(timezone.utc) - timedelta(hours=1)
    now = datetime.now(timezone.utc)
    with runtime.services.db.session() as s:
        figures = apps.stats(s, now - timedelta(days=1), now + timedelta(minutes=1))
        assert figures["submitted"] == 2 and figures["by_stage"]["completed"] == 1
        assert figures["by_stage"]["received"] == 1 and figures["open"] == 1 and figures["overdue"] == 1
        assert figures["closed"] == 1 and figures["closed_in_time"] == 1 and figures["compliance"] == 1.0
        assert apps.stats(s, now - timedelta(days=3), now - timedelta(days=2))["submitted"] == 0
