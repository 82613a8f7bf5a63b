"""One calendar for deadlines and staff hours: the public China calendar (holidays and 调休 from
the ``holidays`` package), the desk's calendar.yaml over it, and staff hours on the same days."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import load_settings
from domain import applications as apps
from domain.catalogue import load_calendar, validate_services
from domain.hours import WorkingHours
from domain.workdays import Calendar

SH = ZoneInfo("Asia/Shanghai")
SAMPLE_SERVICES = Path(__file__).resolve().parents[2] / "knowledge" / "data" / "services"


def test_public_china_calendar_2026_holidays_and_make_up_days():
    cn = Calendar()
    national_day = [date(2026, 10, d) for d in range(1, 8)]
    assert not any(cn.is_working_day(d) for d in national_day)
    for make_up in (date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
                    date(2026, 10, 10)):
        assert make_up.weekday() >= 5 and cn.is_working_day(make_up), make_up
    assert not cn.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert not cn.is_working_day(date(2026, 2, 17))  # Spring Festival
    assert cn.is_working_day(date(2026, 10, 9))
    assert not Calendar(country=None).is_working_day(date(2026, 10, 10))  # weekends only: no 调休


def test_deadlines_count_over_national_day_and_its_make_up_saturday():
    cn = Calendar()
    assert apps.add_working_days(date(2026, 9, 30), 2, cn) == date(2026, 10, 9)
    assert apps.add_working_days(date(2026, 9, 30), 3, cn) == date(2026, 10, 10)
    assert apps.add_working_days(date(2026, 9, 18), 1, cn) == date(2026, 9, 20)


def test_desk_closures_and_extra_workdays_win_over_the_public_calendar():
    desk = Calendar(holidays=frozenset({date(2026, 12, 24)}), workdays=frozenset({date(2026, 10, 8)}))
    assert not desk.is_working_day(date(2026, 12, 24))
    assert desk.is_working_day(date(2026, 10, 8))  # a public holiday the desk works
    assert desk.is_working_day(date(2026, 10, 10))  # the public make-up day still holds


def test_staff_hours_out_of_the_box_close_national_day_and_open_the_make_up_saturday():
    hours = load_settings(_env_file=None).working_hours  # the shipped calendar, no BOT_HANDOFF_HOLIDAYS
    assert not hours.is_open(datetime(2026, 10, 1, 10, 0, tzinfo=SH))
    assert not hours.is_open(datetime(2026, 10, 7, 10, 0, tzinfo=SH))
    assert hours.is_open(datetime(2026, 10, 10, 10, 0, tzinfo=SH))  # 调休 Saturday works weekday hours
    assert hours.is_open(datetime(2026, 9, 20, 16, 30, tzinfo=SH))  # 调休 Sunday
    assert not hours.is_open(datetime(2026, 10, 17, 10, 0, tzinfo=SH))  # an ordinary Saturday
    assert hours.next_open(datetime(2026, 9, 30, 18, 0, tzinfo=SH)) == datetime(2026, 10, 8, 9, 0, tzinfo=SH)


def test_staff_hours_use_the_desks_calendar_and_their_own_closures(tmp_path):
    services = tmp_path / "services"
    services.mkdir()
    (services / "calendar.yaml").write_text("holidays: [2026-11-27]\nworkdays: [2026-10-08]\n", encoding="utf-8")
    hours = WorkingHours.from_settings("mon-fri 09:00-17:00", "2026-11-26", load_calendar(services))
    assert not hours.is_open(datetime(2026, 11, 27, 10, 0, tzinfo=SH))  # the desk's closure
    assert not hours.is_open(datetime(2026, 11, 26, 10, 0, tzinfo=SH))  # staff-only closure
    assert hours.is_open(datetime(2026, 10, 8, 10, 0, tzinfo=SH))  # the desk works a public holiday
    assert load_settings(knowledge_dir=tmp_path, _env_file=None).working_hours.calendar.holidays == {date(2026, 11, 27)}


def test_shipped_calendar_lists_nothing_the_public_calendar_has():
    shipped = load_calendar(SAMPLE_SERVICES)
    assert shipped.country == "CN" and shipped.holidays == frozenset() and shipped.workdays == frozenset()


def test_unknown_country_is_reported_with_the_file(tmp_path):
    (tmp_path / "calendar.yaml").write_text("country: XX\n", encoding="utf-8")
    problems = [p for p in validate_services(tmp_path) if p.level == "error"]
    assert any("unknown country 'XX'" in p.message and p.file.endswith("calendar.yaml") for p in problems)
    assert load_calendar(tmp_path).country == "CN"  # a broken file falls back to the public calendar
