"""Staff working hours, parsed from plain settings, on the desk's one working-day calendar.

``BOT_HANDOFF_HOURS`` lists weekday rules separated by ``;``: ``"mon-fri 09:00-12:00,13:30-17:00;
sat 09:00-12:00"`` (``always`` for round the clock). Public holidays and make-up working days
come from the calendar the deadlines use (``domain.workdays``: the public calendar and the
desk's ``calendar.yaml``); ``BOT_HANDOFF_HOLIDAYS`` adds dates only the staff are away:
``"2026-12-24..2026-12-25, 2027-01-04"``. Kept free of storage and web imports so the settings
can validate them at start.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.workdays import Calendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?\s+(.+)$")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class HoursError(ValueError):
    pass


def parse_hours(text: str) -> dict[int, list[tuple[time, time]]] | None:
    """Weekday (0 = Monday) -> open spans; None means always open."""
    text = text.strip().lower()
    if text in ("always", "24/7"):
        return None
    week: dict[int, list[tuple[time, time]]] = {}
    for rule in filter(None, (r.strip() for r in text.split(";"))):
        match = _RULE.match(rule)
        if not match or match.group(1) not in DAYS or (match.group(2) and match.group(2) not in DAYS):
            raise HoursError(f"cannot read {rule!r}; write e.g. 'mon-fri 09:00-17:00'")
        first = DAYS.index(match.group(1))
        last = DAYS.index(match.group(2)) if match.group(2) else first
        if last < first:
            raise HoursError(f"{rule!r}: the day range runs backwards")
        spans = []
        for span in match.group(3).split(","):
            found = _SPAN.match(span.strip())
            if not found:
                raise HoursError(f"{rule!r}: cannot read the time span {span.strip()!r}; write HH:MM-HH:MM")
            h1, m1, h2, m2 = (int(g) for g in found.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
                raise HoursError(f"{rule!r}: {span.strip()!r} is not a time of day")
            start, end = time(h1, m1), time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
            if end <= start:
                raise HoursError(f"{rule!r}: {span.strip()!r} ends before it starts")
            spans.append((start, end))
        for day in range(first, last + 1):
            week.setdefault(day, []).extend(spans)
    if not week:
        raise HoursError("no working hours given; write e.g. 'mon-fri 09:00-17:00' or 'always'")
    return {day: sorted(spans) for day, spans in week.items()}


def parse_holidays(text: str) -> frozenset[date]:
    days: set[date] = set()
    for item in filter(None, (i.strip() for i in text.replace(";", ",").split(","))):
        first, _, last = item.partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise HoursError(f"cannot read the date {item!r}; write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD") from None
        if end < start:
            raise HoursError(f"{item!r}: the date range runs backwards")
        days.update(start + timedelta(days=n) for n in range((end - start).days + 1))
    return frozenset(days)


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai") from None


@dataclass(frozen=True)
class WorkingHours:
    """When staff are at work: the weekly hours on the working days of ``calendar`` (the same
    calendar the deadlines count in), with ``holidays`` the staff's own extra closed dates."""

    week: dict[int, list[tuple[time, time]]] | None
    zone: ZoneInfo
    holidays: frozenset[date] = field(default_factory=frozenset)
    calendar: Calendar = field(default_factory=Calendar)

    @classmethod
    def from_settings(cls, hours: str, holidays: str, calendar: Calendar | None = None) -> "WorkingHours":
        """The hours in the calendar's time zone: one zone for hours, deadlines and the dates shown."""
        calendar = calendar or Calendar()
        return cls(parse_hours(hours), parse_zone(calendar.timezone), parse_holidays(holidays), calendar)

    def spans_on(self, day: date) -> list[tuple[time, time]]:
        """The open spans of a day: none on a holiday; a make-up Saturday or Sunday (调休) works
        the hours of the first weekday that has any (Monday's, usually), unless it has its own."""
        assert self.week is not None
        if day in self.holidays or self.calendar.is_holiday(day):
            return []
        own = self.week.get(day.weekday(), [])
        if own or not self.calendar.is_made_up_workday(day):
            return own
        return next((self.week[d] for d in range(5) if self.week.get(d)), [])

    def is_open(self, moment: datetime) -> bool:
        if self.week is None:
            return True
        local = moment.astimezone(self.zone)
        now = local.time()
        return any(start <= now < end for start, end in self.spans_on(local.date()))

    def next_open(self, moment: datetime) -> datetime:
        """The first moment at or after ``moment`` when staff are at work (``moment`` itself if open)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(0, 400):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.spans_on(day):
                candidate = datetime.combine(day, start, tzinfo=self.zone)
                if candidate > local:
                    return candidate.astimezone(moment.tzinfo)
        raise HoursError("no working time within the next 400 days")
