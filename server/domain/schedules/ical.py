"""The iCalendar feed of a user's schedules, rendered with the ``icalendar`` package.

One VEVENT per series (RRULE with the recurrence end folded into UNTIL, EXDATE
for cancelled occurrences), one VEVENT per changed occurrence (same UID and a
RECURRENCE-ID), and a VTIMEZONE for every zone used, generated from the IANA
data for the years the events span. icalendar folds lines at 75 octets and ends
them with CRLF. Pure: no database, no clock.

Where calendar clients expand a rule differently from our engine, the feed says
what the engine means: times in a DST gap (the engine skips them; clients move
them past the gap) become EXDATEs, and a COUNT that clients would count
differently becomes an UNTIL (see recurrence.export_rule).

Bounded: rules are never expanded (the gap exclusions excepted, which stop at
the feed's budget), and a feed holds at most ``max_instants`` VEVENTs and
EXDATE values (render_feed), so an export reusing it is bounded too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vRecur, vText

from server.domain.schedules.recurrence import (
    Series,
    export_rule,
    gap_times,
    is_occurrence,
    occurrences,
    parse_rule,
)

PRODID = "-//hipster-timer//schedules//EN"
UID_SUFFIX = "@hipster-timer"
STATUS = {"PLANNED": "TENTATIVE", "CONFIRMED": "CONFIRMED", "CANCELLED": "CANCELLED"}
# An endless series is spelled out (gap exclusions, VTIMEZONE years) this far
# past the feed's latest start or edit; clients apply the rule beyond it.
HORIZON_YEARS = 10
# VEVENTs and EXDATE values a feed holds at most (the CALENDAR_FEED_MAX_INSTANTS
# default): icalendar renders about 4,000 VEVENTs a second.
MAX_INSTANTS = 10_000
TRUNCATED = "X-HIPSTER-TIMER-TRUNCATED"
_YEAR_MS = 366 * 86_400_000
_LAST_MS = 253_370_764_800_000  # 9998-12-31: VTIMEZONE generation needs a year after


class FeedTooLargeError(Exception):
    """The schedules and their changed and cancelled occurrences pass the feed's limit."""

    def __init__(self, limit: int, count: int) -> None:
        super().__init__(f"a feed holds at most {limit} instants; this one needs {count}")
        self.limit = limit
        self.count = count


@dataclass
class _Budget:
    """The instants a feed may still spell out, and whether it had to leave some out."""

    left: int
    short: bool = False

    def take(self, values: list[datetime]) -> list[datetime]:
        """Return the values that fit (at most one more than fits was computed)."""
        kept = values[: self.left]
        self.short = self.short or len(kept) < len(values)
        self.left -= len(kept)
        return kept


@dataclass(frozen=True)
class FeedOverride:
    """One changed or cancelled occurrence; None fields keep the series' value."""

    original_start_ms: int
    cancelled: bool
    start_ms: int
    end_ms: int
    title: str | None
    description: str | None
    state: str | None


@dataclass(frozen=True)
class FeedSchedule:
    """A schedule (a series when it has a rule) as the feed needs it."""

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
    overrides: tuple[FeedOverride, ...] = ()

    @property
    def series(self) -> Series:
        """Return the engine's value for this schedule."""
        return Series(
            self.start_ms,
            self.end_ms - self.start_ms,
            self.timezone,
            self.rule,
            self.end_ms_recurrence,
        )


def render_feed(
    name: str,
    schedules: Iterable[FeedSchedule],
    refresh_minutes: int,
    max_instants: int = MAX_INSTANTS,
) -> bytes:
    """Render a user's schedules as one VCALENDAR (bytes, CRLF, folded).

    At most ``max_instants`` VEVENTs and EXDATE values: the schedules and their
    changed and cancelled occurrences must fit (else FeedTooLargeError); the
    DST-gap exclusions fill what is left, in feed order, and the calendar says
    so when some had to be left out.
    """
    items = list(schedules)
    needed = sum(1 + len(item.overrides) for item in items)
    if needed > max_instants:
        raise FeedTooLargeError(max_instants, needed)
    budget = _Budget(max_instants - needed)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    # Written as given (PT<n>M), not re-normalised to hours by icalendar.
    refresh = f"PT{refresh_minutes}M"
    cal.add("refresh-interval", vText(refresh, params={"VALUE": "DURATION"}), encode=False)
    cal.add("x-published-ttl", vText(refresh), encode=False)
    horizon = _horizon(items)
    for zone, (first, last) in sorted(_zone_years(items, horizon).items()):
        cal.add_component(_vtimezone(zone, first, last))
    for item in items:
        for event in _events(item, horizon, budget):
            cal.add_component(event)
    if budget.short:
        note = f"DST-gap exclusions past the feed's {max_instants} instants are left out"
        cal.add(TRUNCATED, vText(note), encode=False)
    return cal.to_ical()


def _horizon(items: list[FeedSchedule]) -> int:
    """Return how far an endless series is spelled out: the latest start or edit plus years."""
    latest = max((max(i.start_ms, i.updated_at_ms) for i in items), default=0)
    return min(latest + HORIZON_YEARS * _YEAR_MS, _LAST_MS)


def _zone_years(items: list[FeedSchedule], horizon: int) -> dict[str, tuple[int, int]]:
    """Return, per zone, the first and last year its events touch."""
    years: dict[str, tuple[int, int]] = {}
    for item in items:
        ends = [_last_end(item, horizon), *(o.end_ms for o in item.overrides)]
        starts = [item.start_ms, *(o.start_ms for o in item.overrides)]
        first, last = _year(min(starts)) - 1, _year(min(max(ends), _LAST_MS)) + 1
        seen = years.get(item.timezone, (first, last))
        years[item.timezone] = (min(seen[0], first), max(seen[1], last))
    return years


def _last_end(item: FeedSchedule, horizon: int) -> int:
    """Return when the schedule's last occurrence ends (the horizon for an endless one)."""
    series = item.series
    rule = export_rule(series)
    if rule is None:
        return item.end_ms
    parsed = parse_rule(rule, item.timezone)
    if parsed.count is not None:
        last = max(occurrences(series, item.start_ms, _LAST_MS), default=item.start_ms)
        return last + series.duration_ms
    if parsed.until_ms is None:
        return max(horizon, item.end_ms)
    return min(parsed.until_ms, horizon) + series.duration_ms


def _year(ms: int) -> int:
    return datetime.fromtimestamp(ms // 1000, UTC).year


@functools.lru_cache(maxsize=512)
def _vtimezone(zone: str, first_year: int, last_year: int) -> Timezone:
    """Return the VTIMEZONE of a zone for whole years (cached: it takes milliseconds)."""
    first = date(max(first_year, 1), 1, 1)
    last = date(min(last_year, 9998) + 1, 1, 1)
    return Timezone.from_tzid(zone, first_date=first, last_date=last)


def _events(item: FeedSchedule, horizon: int, budget: _Budget) -> list[Event]:
    """Return the schedule's VEVENT and, for a series, one per changed occurrence."""
    zone = ZoneInfo(item.timezone)
    main = _event(item, item.start_ms, item.end_ms, zone, recurring=item.rule is not None)
    _describe(main, item.title, item.description, item.state)
    if item.rule is None:
        return [main]
    series = item.series
    main.add("rrule", vRecur.from_ical(export_rule(series) or ""))
    overrides = [o for o in item.overrides if is_occurrence(series, o.original_start_ms)]
    excluded = [_local(o.original_start_ms, zone) for o in overrides if o.cancelled]
    # One more than fits is asked for, to tell whether any was left out.
    gaps = budget.take(gap_times(series, item.start_ms, horizon, budget.left + 1))
    excluded += [t.replace(tzinfo=zone) for t in gaps]
    if excluded:
        main.add("exdate", sorted(set(excluded)))
    changed = [_changed(item, o, zone) for o in overrides if not o.cancelled]
    return [main, *changed]


def _changed(item: FeedSchedule, override: FeedOverride, zone: ZoneInfo) -> Event:
    """Return the VEVENT of one changed occurrence."""
    event = _event(item, override.start_ms, override.end_ms, zone)
    event.add("recurrence-id", _local(override.original_start_ms, zone))
    _describe(
        event,
        item.title if override.title is None else override.title,
        item.description if override.description is None else override.description,
        override.state or item.state,
    )
    return event


def _event(
    item: FeedSchedule, start_ms: int, end_ms: int, zone: ZoneInfo, recurring: bool = False
) -> Event:
    """Return a VEVENT with the schedule's identity, stamps and the given times."""
    event = Event()
    event.add("uid", item.id + UID_SUFFIX)
    event.add("dtstamp", _utc(item.updated_at_ms))
    event.add("created", _utc(item.created_at_ms))
    event.add("last-modified", _utc(item.updated_at_ms))
    # A rule recurs in the zone, so a series' DTSTART is local whatever it is.
    event.add("dtstart", _local(start_ms, zone) if recurring else _when(start_ms, zone))
    event.add("dtend", _when(end_ms, zone))
    return event


def _describe(event: Event, title: str, description: str, state: str) -> None:
    event.add("summary", title)
    if description:
        event.add("description", description)
    event.add("status", STATUS.get(state, "CONFIRMED"))


def _local(ms: int, zone: ZoneInfo) -> datetime:
    """Return an instant as wall-clock time in the zone (whole seconds)."""
    return datetime.fromtimestamp(ms // 1000, zone)


def _when(ms: int, zone: ZoneInfo) -> datetime:
    """Return an instant as local time, or as UTC when local time would name the other one.

    A wall-clock time in the repeated hour of a DST fold means its first
    occurrence; an instant in the second one is written in UTC instead.
    """
    local = _local(ms, zone)
    return _utc(ms) if local.fold else local


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, UTC)
