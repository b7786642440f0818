"""A poll's definition and its validation, every problem named by its field."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from server.slots.errors import Problem, SlotsError, is_int, refuse

MAX_DAYS = 366
MIN_SLOT_MINUTES, MAX_SLOT_MINUTES = 5, 240
# Every local date of the grid, shifted by any offset, stays a valid datetime.
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(9998, 12, 31)
# Names tzdata ships that are not zones: the host's own clock and two artefacts.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class PollDefinition:
    """A poll's grid as its owner defines it; times are wall clock in ``timezone``.

    ``end_time`` is exclusive; ``time(0, 0)`` as the end means midnight at the
    end of the day (24:00).
    """

    start_date: date
    end_date: date
    available_days: Sequence[int]
    start_time: time
    end_time: time
    time_slot_minutes: int
    timezone: str


class Spec(NamedTuple):
    """A checked definition in plain numbers (minutes of the day), hashable."""

    first: date
    last: date
    days: tuple[int, ...]
    start_minute: int
    end_minute: int
    slot: int
    zone: str


def check_definition(poll: PollDefinition) -> Spec:
    """Return the definition as a Spec; raise SlotsError naming every bad field."""
    problems = [
        *_date_problems(poll.start_date, poll.end_date),
        *_day_problems(poll.available_days),
        *_time_problems(poll.start_time, poll.end_time),
        *_slot_problems(poll.time_slot_minutes),
    ]
    zone = zone_problem(poll.timezone, "timezone")
    problems += [zone] if zone else []
    refuse(problems)
    start, end = _minute(poll.start_time), _minute(poll.end_time) or 24 * 60
    spec = Spec(
        poll.start_date, poll.end_date, tuple(sorted(poll.available_days)), start, end,
        poll.time_slot_minutes, poll.timezone,
    )  # fmt: skip
    refuse(_fit_problems(spec))
    return spec


def load_zone(name: object, field: str) -> ZoneInfo:
    """Return the IANA zone ``name``; raise SlotsError naming ``field`` when it is none."""
    problem = zone_problem(name, field)
    if problem:
        raise SlotsError([problem])
    return ZoneInfo(str(name))


def zone_problem(name: object, field: str) -> Problem | None:
    """Return the problem with a zone name, or None when it is an IANA zone."""
    if isinstance(name, str) and name in _zones():
        return None
    return Problem(field, "unknown_zone", f"{field} {name!r} is not an IANA time zone")


@functools.cache
def _zones() -> frozenset[str]:
    # ZoneInfo() alone would accept "localtime" and fail with OSError on "America".
    return frozenset(available_timezones()) - _NOT_ZONES


def _date_problems(first: object, last: object) -> list[Problem]:
    problems = [_date_problem(first, "start_date"), _date_problem(last, "end_date")]
    found = [p for p in problems if p]
    if found or not (isinstance(first, date) and isinstance(last, date)):
        return found
    if last < first:
        return [Problem("end_date", "before_start", f"end_date {last} is before {first}")]
    if (last - first).days + 1 > MAX_DAYS:
        message = f"the poll spans {(last - first).days + 1} days; at most {MAX_DAYS}"
        return [Problem("end_date", "too_long", message)]
    return []


def _date_problem(value: object, field: str) -> Problem | None:
    if not isinstance(value, date) or isinstance(value, datetime):
        return Problem(field, "not_a_date", f"{field} must be a date")
    if not FIRST_DATE <= value <= LAST_DATE:
        message = f"{field} {value} is outside {FIRST_DATE}..{LAST_DATE}"
        return Problem(field, "out_of_range", message)
    return None


def _day_problems(days: object) -> list[Problem]:
    if isinstance(days, str | bytes) or not isinstance(days, Sequence):
        return [Problem("available_days", "not_a_list", "available_days must be a list")]
    if not days:
        return [Problem("available_days", "empty", "available_days names no day")]
    problems, seen = [], set()
    for pos, day in enumerate(days):
        field = f"available_days[{pos}]"
        if not is_int(day) or not 0 <= day <= 6:
            message = f"{field} is {day!r}; days are 0 (Monday) to 6 (Sunday)"
            problems.append(Problem(field, "out_of_range", message))
        elif day in seen:
            problems.append(Problem(field, "duplicate", f"{field}: day {day} is listed twice"))
        else:
            seen.add(day)
    return problems


def _time_problems(start: object, end: object) -> list[Problem]:
    problems = [_time_problem(start, "start_time"), _time_problem(end, "end_time")]
    found = [p for p in problems if p]
    if found or not (isinstance(start, time) and isinstance(end, time)):
        return found
    if (_minute(end) or 24 * 60) <= _minute(start):
        message = f"end_time {end:%H:%M} is not after start_time {start:%H:%M}"
        return [Problem("end_time", "not_after_start", message)]
    return []


def _time_problem(value: object, field: str) -> Problem | None:
    if not isinstance(value, time) or value.tzinfo is not None:
        return Problem(field, "not_a_time", f"{field} must be a wall-clock time without a zone")
    if value.second or value.microsecond:
        return Problem(field, "not_whole_minutes", f"{field} {value} is not on a whole minute")
    return None


def _slot_problems(slot: object) -> list[Problem]:
    if is_int(slot) and MIN_SLOT_MINUTES <= slot <= MAX_SLOT_MINUTES:
        return []
    message = f"time_slot_minutes is {slot!r}; it must be {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES}"
    return [Problem("time_slot_minutes", "out_of_range", message)]


def _fit_problems(spec: Spec) -> list[Problem]:
    problems = []
    span = spec.end_minute - spec.start_minute
    if span % spec.slot:
        message = f"time_slot_minutes {spec.slot} does not divide the daily range of {span} minutes"
        problems.append(Problem("time_slot_minutes", "not_dividing", message))
    length = (spec.last - spec.first).days + 1
    weekdays = {(spec.first + timedelta(days=n)).weekday() for n in range(min(length, 7))}
    if weekdays.isdisjoint(spec.days):
        names = ", ".join(WEEKDAYS[d] for d in spec.days)
        message = f"no date from {spec.first} to {spec.last} is a {names}: the poll has no cell"
        problems.append(Problem("available_days", "no_cells", message))
    return problems


def _minute(value: time) -> int:
    return value.hour * 60 + value.minute
