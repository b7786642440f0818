"""The recurrence engine: RFC 5545 rules expanded in the series' own time zone.

python-dateutil's ``rrule`` is the reference for the rule arithmetic, done on
naive wall-clock times (DTSTART as local wall time in the series' zone). The
engine is the zone layer on top: each wall-clock time becomes an instant, local
times that do not exist (the DST gap) are skipped and not counted (RFC 5545
3.3.10), the first of two ambiguous ones is taken (fold=0), and DTSTART is always
the first occurrence, counted by COUNT, even when the rule does not match it (as
calendar clients do). All instants are Unix milliseconds; occurrences start on
whole seconds (the schedule layer truncates DTSTART to the second).

Cost does not grow with a series' age. Rules without COUNT are never iterated
from DTSTART: the common shapes (DAILY, WEEKLY, MONTHLY and simple YEARLY
without BYSETPOS, BYWEEKNO or BYYEARDAY) are computed arithmetically for the
window's days only, and the rest are handed to dateutil re-anchored a whole
number of periods later, just before the window, with the defaults DTSTART
implied made explicit, so the sequence is unchanged. COUNT rules (at most
MAX_COUNT occurrences) are expanded once from DTSTART and cached.

Not supported, refused with RecurrenceError: FREQ=SECONDLY, BYSECOND=60 (leap
seconds), BYDAY mixing weekdays with and without an ordinal (MO,1FR: dateutil
intersects them instead of joining them), and rules with no occurrence after
DTSTART within SPAN_YEARS years (they would make dateutil search to year 9999).

The engine is split by layer, each importing only the ones before it: zones
(wall-clock time to instants, DST gaps, RecurrenceError), rules (parsing,
checks, canonical form), plans (a rule compiled for one DTSTART and the
wall-clock times it yields) and this module, which expands series into
instants and is the one the rest of the app imports.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import re
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from server.domain.schedules.plans import (
    _DATES,
    _locals,
    _Plan,
    _plan,
    _rrule,
    _rrule_locals,
)
from server.domain.schedules.rules import (
    _STAMP,
    MAX_COUNT,
    SPAN_YEARS,
    Rule,
    parse_rule,
    utc_stamp,
)
from server.domain.schedules.zones import (
    _EPOCH_ORD,
    _MAX_LOCAL_MS,
    _MAX_ORD,
    _MIN_ORD,
    DAY_MS,
    RecurrenceError,
    _gaps,
    _naive,
    _naive_ms,
)

# bench/recurrence.py clears this cache through this module.
from server.domain.schedules.zones import _zone as _zone

__all__ = [
    "MAX_COUNT",
    "RecurrenceError",
    "Rule",
    "Series",
    "export_rule",
    "gap_times",
    "instance_id",
    "is_occurrence",
    "normalize_rule",
    "occurrences",
    "parse_instance_id",
    "parse_rule",
    "split_rule",
    "starts",
    "utc_stamp",
]

_INSTANCE = re.compile(r"(?P<series>[^:]+):(?P<stamp>\d{8}T\d{6}Z)")
_SLACK_MS = 16 * 3_600_000
_NO_LIMIT = sys.maxsize


@dataclass(frozen=True)
class Series:
    """A series' timing: DTSTART and duration (ms), zone, rule (None: single), recurrence end."""

    start_ms: int
    duration_ms: int
    zone: str
    rule: str | None = None
    end_ms: int | None = None


# --------------------------------------------------------------------------- normalizing


def normalize_rule(text: str, start_ms: int, zone: str) -> str:
    """Check an RRULE body for a series starting at ``start_ms`` in ``zone``; return it canonical.

    Besides parsing, the rule must yield an occurrence after DTSTART (and all
    COUNT of them) within SPAN_YEARS years of naive wall-clock time, so an
    impossible rule (FREQ=DAILY;INTERVAL=7;BYDAY=TU from a Monday) is refused
    instead of making every later expansion search to year 9999.
    """
    rule = parse_rule(text, zone)
    if rule.until_ms is not None and rule.until_ms < start_ms // 1000 * 1000:
        raise RecurrenceError("UNTIL is before the series' start")
    plan = _plan(start_ms, zone, rule.text())
    _probe(plan)
    return rule.text()


def _probe(plan: _Plan) -> None:
    """Refuse a rule with too few occurrences after DTSTART within SPAN_YEARS years.

    The Gregorian calendar repeats every 400 years (146,097 days, a whole number
    of weeks), so the rule is tried from DTSTART moved by 400-year steps into
    9200..9599: dateutil, which searches until a match or year 9999, then gives
    up after at most 800 years instead of 8,000.
    """
    start = plan.start
    moved = start.replace(year=start.year + max(0, (9599 - start.year) // 400) * 400)
    horizon = moved.replace(year=min(moved.year + SPAN_YEARS, 9999))
    needed = 1 if plan.rule.count is None else plan.rule.count - 1
    found = 0
    try:
        moments = iter(_rrule(plan, moved))
        while found < needed and (moment := next(moments, None)) is not None:
            if moment > horizon:
                break
            found += moment > moved
    except ValueError as exc:  # dateutil finds some BYHOUR/INTERVAL pairs empty, some late
        raise RecurrenceError(f"the rule has no occurrence: {exc}") from None
    if found < needed:
        what = "an occurrence" if plan.rule.count is None else f"{plan.rule.count} occurrences"
        raise RecurrenceError(
            f"the rule does not give {what} within {SPAN_YEARS} years of its start"
        )


# --------------------------------------------------------------------------- expansion


def occurrences(
    series: Series, window_start_ms: int, window_end_ms: int, limit: int | None = None
) -> Iterator[int]:
    """Yield the original starts of the occurrences overlapping [start, end), ascending.

    With ``limit``, only the first ``limit`` of them (and only they are computed).
    """
    return iter(starts(series, window_start_ms - series.duration_ms + 1, window_end_ms, limit))


def is_occurrence(series: Series, original_start_ms: int) -> bool:
    """Say whether an instant is the original start of one of the series' occurrences."""
    return original_start_ms in starts(series, original_start_ms, original_start_ms + 1)


def starts(series: Series, lo: int, hi: int, limit: int | None = None) -> list[int]:
    """Return the occurrence starts in [lo, hi), ascending; only the first ``limit`` when given.

    A limit bounds the work as well as the answer: a MINUTELY rule with sixty
    BYSECOND values has 2.6 million starts a month, and a caller that needs a
    page of them must not pay for the month.
    """
    room = _NO_LIMIT if limit is None else limit
    start = series.start_ms
    if series.end_ms is not None:
        hi = min(hi, series.end_ms + 1)
    if series.rule is None:
        return [start] if lo <= start < hi and room > 0 else []
    plan = _plan(start, series.zone, series.rule)
    hi = min(hi, plan.limit)
    if lo >= hi or room <= 0:
        return []
    if plan.rule.count is not None:
        counted = _counted(start, series.zone, series.rule)
        first = bisect.bisect_left(counted, lo)
        return counted[first : min(bisect.bisect_left(counted, hi), first + room)].tolist()
    out = [start] if lo <= start < hi else []
    room -= len(out)
    out.extend(_fast_starts(plan, lo, hi, room) if plan.fast else _rrule_starts(plan, lo, hi, room))
    return out


def _fast_starts(plan: _Plan, lo: int, hi: int, room: int) -> list[int]:
    """Return up to ``room`` starts after DTSTART in [lo, hi), from the window's days only."""
    # A wall-clock time is within 16 hours of UTC (the widest offset is 15:56, LMT).
    first = max(plan.origin, (lo - _SLACK_MS) // DAY_MS + _EPOCH_ORD, _MIN_ORD)
    last = min((hi + _SLACK_MS) // DAY_MS + _EPOCH_ORD, _MAX_ORD)
    # The wall-clock mapping is monotonic, so "after DTSTART" is one comparison.
    lo = max(lo, plan.start_ms + 1)
    zone, times, days = plan.zone, plan.times, plan.zone.days
    out: list[int] = []
    for ordinal in _DATES[plan.rule.freq](plan, first, last):
        offset = days.get(ordinal, -1)
        if offset == -1:
            offset = zone.day_offset(ordinal)
        base = (ordinal - _EPOCH_ORD) * DAY_MS
        for time_ms in times:
            utc = base + time_ms - offset if offset is not None else zone.exact(base + time_ms)
            if utc is None or utc < lo:
                continue
            if utc >= hi or len(out) == room:
                return out
            out.append(utc)
    return out


def _rrule_starts(plan: _Plan, lo: int, hi: int, room: int) -> list[int]:
    """Return up to ``room`` starts after DTSTART in [lo, hi), dateutil re-anchored near lo."""
    out: list[int] = []
    zone, start = plan.zone, plan.start_ms
    for local in _rrule_locals(plan, lo - DAY_MS, hi + DAY_MS):
        utc = zone.utc(local)
        if utc is None or utc <= start or utc < lo:
            continue
        if utc >= hi or len(out) == room:
            break
        out.append(utc)
    return out


@functools.lru_cache(maxsize=1024)
def _counted(start_ms: int, zone: str, text: str) -> array[int]:
    """Return every start of a COUNT rule, DTSTART first, expanded once from DTSTART."""
    plan = _plan(start_ms, zone, text)
    assert plan.rule.count is not None
    out = array("q", [start_ms])
    horizon = min(_naive_ms(plan.start) + SPAN_YEARS * 366 * DAY_MS, _MAX_LOCAL_MS)
    locals_ = _locals(plan, plan.start_local_ms, horizon)
    # Stop at COUNT before asking for one more: a sparse rule may search long for it.
    while len(out) < plan.rule.count and (local := next(locals_, None)) is not None:
        utc = plan.zone.utc(local)
        if utc is not None and utc > start_ms:
            out.append(utc)
    return out


# --------------------------------------------------------------------------- ids and splits


def instance_id(series_id: str, original_start_ms: int) -> str:
    """Return an occurrence's stable id: ``<series id>:<original start, UTC basic format>``.

    Seconds precision is exact: the schedule layer truncates DTSTART to whole
    seconds, and every later occurrence is a whole number of seconds from it.
    """
    return f"{series_id}:{utc_stamp(original_start_ms)}"


def parse_instance_id(text: str) -> tuple[str, int] | None:
    """Split an occurrence id into series id and original start (ms); None if it is not one."""
    match = _INSTANCE.fullmatch(text)
    if match is None:
        return None
    try:
        moment = datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return match["series"], int(moment.timestamp()) * 1000


def split_rule(series: Series, original_start_ms: int) -> tuple[str | None, str | None]:
    """Split a series at an occurrence: the rule before it and the rule from it on.

    The first ends one second before the occurrence (a COUNT becomes that
    UNTIL); None when nothing precedes it (the occurrence is DTSTART). The
    second, for a series starting at the occurrence, keeps UNTIL or counts what
    remains of COUNT. Raise RecurrenceError for a non-occurrence, and for a
    WEEKLY BYSETPOS rule whose first week would select otherwise (dateutil
    selects within the days from DTSTART on, and a rule cannot say otherwise).
    """
    if series.rule is None or not is_occurrence(series, original_start_ms):
        raise RecurrenceError("only an occurrence of a recurring series can start a split")
    rule = parse_rule(series.rule, series.zone)
    head = None
    if original_start_ms > series.start_ms:
        cut = original_start_ms // 1000 * 1000 - 1000
        until = cut if rule.until_ms is None else min(rule.until_ms, cut)
        head = dataclasses.replace(rule, count=None, until_ms=until).text()
    tail = rule
    if rule.count is not None:
        counted = _counted(series.start_ms, series.zone, series.rule)
        tail = dataclasses.replace(
            rule, count=len(counted) - bisect.bisect_left(counted, original_start_ms)
        )
    if rule.freq == "WEEKLY" and rule.bysetpos:
        _check_tail(series, original_start_ms, tail.text())
    return head, tail.text()


def _check_tail(series: Series, original_start_ms: int, tail: str) -> None:
    week = 8 * DAY_MS
    moved = dataclasses.replace(series, start_ms=original_start_ms, rule=tail)
    if starts(moved, original_start_ms, original_start_ms + week) != starts(
        series, original_start_ms, original_start_ms + week
    ):
        raise RecurrenceError("this WEEKLY BYSETPOS rule cannot be split at this occurrence")


# --------------------------------------------------------------------------- export


def export_rule(series: Series) -> str | None:
    """Return the rule for calendar clients: the recurrence end folded into UNTIL.

    Clients count a DTSTART the rule does not match on top of COUNT, and count
    times in a DST gap; when either would change what COUNT gives, or the
    recurrence end cuts a COUNT, the rule says UNTIL its last occurrence instead.
    """
    if series.rule is None:
        return None
    rule = parse_rule(series.rule, series.zone)
    end = None if series.end_ms is None else series.end_ms // 1000 * 1000
    if rule.count is None:
        if end is not None and (rule.until_ms is None or end < rule.until_ms):
            rule = dataclasses.replace(rule, until_ms=end)
        return rule.text()
    found = starts(series, series.start_ms, _MAX_LOCAL_MS) or [series.start_ms]
    cut = end is not None and len(found) < rule.count
    if cut or not _counts_like_clients(_plan(series.start_ms, series.zone, series.rule)):
        rule = dataclasses.replace(rule, count=None, until_ms=found[-1])
    return rule.text()


def _counts_like_clients(plan: _Plan) -> bool:
    assert plan.rule.count is not None
    locals_ = list(
        itertools.islice(_locals(plan, plan.start_local_ms, _MAX_LOCAL_MS), plan.rule.count)
    )
    return (
        bool(locals_)
        and locals_[0] == plan.start_local_ms
        and all(plan.zone.utc(local) is not None for local in locals_)
    )


def gap_times(series: Series, lo_ms: int, hi_ms: int, limit: int | None = None) -> list[datetime]:
    """Return the rule's wall-clock times in [lo, hi) that fall in a DST gap (naive, local).

    The engine skips them; calendar clients move them past the gap instead,
    so a feed excludes them explicitly. Only times the series' bounds keep
    (UNTIL, recurrence end, the last COUNT occurrence) are returned, and only
    the first ``limit`` when given (a MINUTELY rule has 60 in each gap hour).
    """
    if series.rule is None:
        return []
    plan = _plan(series.start_ms, series.zone, series.rule)
    end = plan.limit if series.end_ms is None else min(plan.limit, series.end_ms + 1)
    if plan.rule.count is not None:
        end = min(end, _counted(series.start_ms, series.zone, series.rule)[-1] + 1)
    room = _NO_LIMIT if limit is None else limit
    out: list[datetime] = []
    for gap_start, gap_end in _gaps(plan.zone, max(lo_ms, series.start_ms), min(hi_ms, end)):
        times = _locals(plan, gap_start, gap_end - 1)
        out.extend(_naive(t) for t in itertools.islice(times, room - len(out)))
        if len(out) >= room:
            break
    return out
