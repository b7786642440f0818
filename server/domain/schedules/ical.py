"""The iCalendar feed of a user's schedules, rendered with the ``icalendar`` package.

One VEVENT per series (RRULE with the recurrence end folded into UNTIL, EXDATE
for cancelled occurrences), one VEVENT per changed occurrence (same UID,
RECURRENCE-ID), a VTIMEZONE for every zone used; icalendar folds lines at 75
octets and ends them with CRLF.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vRecur

PRODID = "-//hipster-timer//schedules//EN"
STATUS = {"PLANNED": "TENTATIVE", "CONFIRMED": "CONFIRMED", "CANCELLED": "CANCELLED"}


@dataclass(frozen=True)
class FeedOverride:
    """One changed or cancelled occurrence."""

    original_start_ms: int
    cancelled: bool
    start_ms: int
    end_ms: int
    title: str | None
    description: str | None
    state: str | None


@dataclass(frozen=True)
class FeedSchedule:
    """A series (or single schedule) as the feed needs it."""

    id: str
    title: str
    description: str
    start_ms: int
    end_ms: int
    timezone: str
    rule: str | None
    end_ms_recurrence: int | None
    state: str
    created_at_ms: int
    updated_at_ms: int
    overrides: tuple[FeedOverride, ...] = field(default=())


def render_feed(name: str, schedules: Iterable[FeedSchedule], refresh_minutes: int) -> bytes:
    """Return the VCALENDAR of ``schedules`` as bytes."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval;value=duration", f"PT{refresh_minutes}M")
    cal.add("x-published-ttl", f"PT{refresh_minutes}M")
    events: list[Event] = []
    zones: dict[str, tuple[int, int]] = {}
    for schedule in schedules:
        low, high = zones.get(schedule.timezone, (schedule.start_ms, schedule.start_ms))
        zones[schedule.timezone] = (min(low, schedule.start_ms), max(high, _horizon(schedule)))
        events.extend(_events(schedule))
    for zone, (low, high) in sorted(zones.items()):
        cal.add_component(_timezone(zone, low, high))
    for event in events:
        cal.add_component(event)
    return bytes(cal.to_ical())


def _events(schedule: FeedSchedule) -> list[Event]:
    zone = ZoneInfo(schedule.timezone)
    main = _event(schedule, schedule.start_ms, schedule.end_ms, zone)
    main.add("summary", schedule.title)
    if schedule.description:
        main.add("description", schedule.description)
    main.add("status", STATUS[schedule.state])
    if schedule.rule is not None:
        main.add("rrule", vRecur.from_ical(_rule(schedule)))
        cancelled = [o for o in schedule.overrides if o.cancelled]
        if cancelled:
            main.add("exdate", [_local(o.original_start_ms, zone) for o in cancelled])
    events = [main]
    for override in schedule.overrides:
        if override.cancelled:
            continue
        event = _event(schedule, override.start_ms, override.end_ms, zone)
        event.add("recurrence-id", _local(override.original_start_ms, zone))
        event.add("summary", override.title or schedule.title)
        description = schedule.description if override.description is None else override.description
        if description:
            event.add("description", description)
        event.add("status", STATUS[override.state or schedule.state])
        events.append(event)
    return events


def _event(schedule: FeedSchedule, start_ms: int, end_ms: int, zone: ZoneInfo) -> Event:
    event = Event()
    event.add("uid", f"{schedule.id}@hipster-timer")
    event.add("dtstamp", _utc(schedule.updated_at_ms))
    event.add("created", _utc(schedule.created_at_ms))
    event.add("last-modified", _utc(schedule.updated_at_ms))
    event.add("dtstart", _local(start_ms, zone))
    event.add("dtend", _local(end_ms, zone))
    return event


def _rule(schedule: FeedSchedule) -> str:
    """Return the RRULE with the recurrence end folded in as an UNTIL, when it ends earlier."""
    assert schedule.rule is not None
    if schedule.end_ms_recurrence is None:
        return schedule.rule
    parts = dict(p.split("=", 1) for p in schedule.rule.split(";"))
    limit = datetime.fromtimestamp(schedule.end_ms_recurrence // 1000, UTC).strftime(
        "%Y%m%dT%H%M%SZ"
    )
    if "COUNT" in parts:
        from server.domain.schedules.recurrence import Series, occurrences

        series = Series(
            schedule.start_ms, schedule.end_ms - schedule.start_ms, schedule.timezone, schedule.rule
        )
        starts = list(occurrences(series, schedule.start_ms, schedule.end_ms_recurrence + 1))
        if len(starts) >= int(parts["COUNT"]):
            return schedule.rule
        del parts["COUNT"]
    if "UNTIL" not in parts or parts["UNTIL"] > limit:
        parts["UNTIL"] = limit
    return ";".join(f"{k}={v}" for k, v in parts.items())


def _timezone(zone: str, low_ms: int, high_ms: int) -> Timezone:
    first = date.fromtimestamp(low_ms / 1000).replace(month=1, day=1)
    last = date.fromtimestamp(min(high_ms, 4102444800000) / 1000)
    return Timezone.from_tzid(zone, first_date=first, last_date=last.replace(year=last.year + 1))


def _horizon(schedule: FeedSchedule) -> int:
    # Open-ended series get zone data ten years past their start or today, whichever is later.
    return max(schedule.start_ms, int(datetime.now(UTC).timestamp() * 1000)) + 10 * 365 * 86_400_000


def _local(ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, zone)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
