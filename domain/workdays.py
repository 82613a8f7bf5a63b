"""The one working-day calendar, for application deadlines (办理时限) and staff hours alike.

Public holidays and the make-up working days (调休, a Saturday or Sunday worked instead) come
from the ``holidays`` package's calendar of a country (China by default: it carries the State
Council's notice for each published year, ``weekend_workdays`` holding the make-up days). A desk
adds only its own closures (``holidays``) and its own extra working days (``workdays``), which win
over the public calendar; ``calendar.yaml`` beside the service files holds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import holidays as public_calendars

DEFAULT_COUNTRY = "CN"


def public_holidays(country: str | None) -> public_calendars.HolidayBase | None:
    """A country's public calendar (``None``: weekends only); years fill in as they are asked."""
    if country is None:
        return None
    if country not in public_calendars.list_supported_countries():
        raise ValueError(f"unknown country {country!r} for the public holidays (e.g. CN)")
    return public_calendars.country_holidays(country, expand=True)


@dataclass(frozen=True)
class Calendar:
    """Weekends off; the public holidays of ``country`` off and its make-up days worked; then the
    desk's own ``holidays`` (closed) and ``workdays`` (open) over both."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    timezone: str = "Asia/Shanghai"
    country: str | None = DEFAULT_COUNTRY
    public: public_calendars.HolidayBase | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.public is None and self.country is not None:
            object.__setattr__(self, "public", public_holidays(self.country))

    def is_holiday(self, day: date) -> bool:
        """A day off that would otherwise be worked or a public holiday on a weekend."""
        if day in self.workdays:
            return False
        return day in self.holidays or (self.public is not None and day in self.public)

    def is_made_up_workday(self, day: date) -> bool:
        """A Saturday or Sunday that is worked (调休, or the desk's own)."""
        if day.weekday() < 5 or day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if self.public is None:
            return False
        # Asking ``day in public`` first fills in the day's year, its make-up days included.
        return day not in self.public and day in self.public.weekend_workdays

    def is_working_day(self, day: date) -> bool:
        if self.is_holiday(day):
            return False
        return day.weekday() < 5 or self.is_made_up_workday(day)
