"""A holiday calendar as an iCalendar feed: all-day events, the same bytes for the same days.

Pure: no database, no clock. Nothing in the file depends on when it is
rendered (DTSTAMP is the start of the holiday's year, UIDs hash the calendar,
category and name), so its hash is a strong ETag and a subscriber that
refreshes gets 304 until the days change. All-day dates need no VTIMEZONE.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vText

from server.domain.holidays.engine import CalendarSpec, Holiday

PRODID = "-//hipster-timer//holidays//EN"
UID_DOMAIN = "holidays.hipster-timer"
# Holidays change with the package's releases, not by the hour.
REFRESH = "P1D"


def render_holiday_feed(spec: CalendarSpec, title: str, days: Iterable[Holiday]) -> bytes:
    """Render the days as one VCALENDAR (bytes, CRLF, folded at 75 octets)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", title)
    cal.add("refresh-interval", vText(REFRESH, params={"VALUE": "DURATION"}), encode=False)
    cal.add("x-published-ttl", vText(REFRESH), encode=False)
    for day in days:
        cal.add_component(holiday_event(spec, day))
    return bytes(cal.to_ical())


def holiday_event(spec: CalendarSpec, day: Holiday) -> Event:
    """Return the all-day VEVENT of one holiday."""
    event = Event()
    event.add("uid", holiday_uid(spec, day))
    event.add("dtstamp", datetime(day.date.year, 1, 1, tzinfo=UTC))
    event.add("dtstart", day.date)
    event.add("dtend", day.date + timedelta(days=1))
    event.add("summary", day.name)
    event.add("categories", [day.category, *_flags(day)])
    # A holiday is not a meeting: it must not mark the subscriber busy.
    event.add("transp", "TRANSPARENT")
    return event


def holiday_uid(spec: CalendarSpec, day: Holiday) -> str:
    """Return a UID that names the same holiday in every rendering of the same calendar."""
    key = "\x1f".join((spec.code, spec.language or "", day.category, day.name))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{day.date:%Y%m%d}-{digest}@{UID_DOMAIN}"


def _flags(day: Holiday) -> list[str]:
    return [flag for flag, on in (("observed", day.observed), ("estimated", day.estimated)) if on]
