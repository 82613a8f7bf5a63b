"""Working hours and holidays: parsing, open/closed, the next opening."""
from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.config import SettingsError, load_settings
from domain.hours import HoursError, WorkingHours, parse_holidays, parse_hours
from domain.workdays import Calendar

SH = ZoneInfo("Asia/Shanghai")


def hours(spec: str = "mon-fri 09:00-12:00,13:30-17:00; sat 09:00-12:00", holidays: str = "") -> WorkingHours:
    return WorkingHours.from_settings(spec, holidays)


def test_weekday_spans_and_lunch_break():
    h = hours()
    assert h.is_open(datetime(2026, 11, 26, 10, 0, tzinfo=SH))  # Thursday morning
    assert not h.is_open(datetime(2026, 11, 26, 12, 30, tzinfo=SH))  # lunch
    assert h.is_open(datetime(2026, 11, 28, 11, 59, tzinfo=SH))  # Saturday morning
    assert not h.is_open(datetime(2026, 11, 28, 14, 0, tzinfo=SH))
    assert not h.is_open(datetime(2026, 11, 29, 10, 0, tzinfo=SH))  # Sunday
    # 02:00 UTC is 10:00 in Shanghai
    assert h.is_open(datetime(2026, 11, 26, 2, 0, tzinfo=ZoneInfo("UTC")))


def test_holidays_close_and_next_open_skips_them():
    h = hours(holidays="2026-10-01..2026-10-07, 2026-10-09")
    assert not h.is_open(datetime(2026, 10, 2, 10, 0, tzinfo=SH))
    nxt = h.next_open(datetime(2026, 9, 30, 18, 0, tzinfo=SH))
    assert nxt.astimezone(SH) == datetime(2026, 10, 8, 9, 0, tzinfo=SH)
    assert h.next_open(datetime(2026, 10, 8, 12, 15, tzinfo=SH)).astimezone(SH).time() == time(13, 30)
    assert h.next_open(datetime(2026, 10, 8, 17, 0, tzinfo=SH)).astimezone(SH) == datetime(2026, 10, 10, 9, 0, tzinfo=SH)


def test_always_and_24():
    assert parse_hours("always") is None
    assert WorkingHours.from_settings("mon-sun 00:00-24:00", "", Calendar(timezone="UTC")).is_open(
        datetime(2026, 1, 6, 23, 59, 59, tzinfo=ZoneInfo("UTC")))


@pytest.mark.parametrize("spec", ["", "mon-fry 09:00-17:00", "fri-mon 09:00-17:00", "mon 17:00-09:00",
                                  "mon 25:00-26:00", "weekdays"])
def test_bad_hours_are_refused(spec):
    with pytest.raises(HoursError):
        parse_hours(spec)


def test_the_hours_keep_the_calendars_time_zone():
    """One clock for the desk: the staff hours run in the zone the deadlines are dated in."""
    assert hours().zone == SH
    assert WorkingHours.from_settings("mon-fri 09:00-17:00", "", Calendar(timezone="Europe/Berlin")).zone == ZoneInfo(
        "Europe/Berlin")


def test_bad_holidays_stop_the_start_naming_the_variable():
    with pytest.raises(HoursError):
        parse_holidays("2026-13-01")
    with pytest.raises(SettingsError, match="BOT_HANDOFF_HOLIDAYS"):
        load_settings(handoff_holidays="2026-10-07..2026-10-01", _env_file=None)


def test_the_retired_zone_variable_stops_the_start_saying_what_replaced_it(monkeypatch):
    monkeypatch.setenv("BOT_HANDOFF_TIMEZONE", "Europe/Berlin")
    with pytest.raises(SettingsError, match="calendar.yaml"):
        load_settings(_env_file=None)
