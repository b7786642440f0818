"""The recurrence engine: RFC 5545 rules expanded in the series' own time zone.

python-dateutil's ``rrule`` is the reference for the rule arithmetic, done on
naive wall-clock times (DTSTART as local wall time in the series' zone). This
module is the zone layer on top: each wall-clock time becomes an instant, local
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
"""

from __future__ import annotations

import bisect
import calendar
import dataclasses
import functools
import itertools
import math
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du

MAX_COUNT = 10_000
MAX_INTERVAL = 1_000
# A rule must yield an occurrence after DTSTART (and all of its COUNT ones)
# within this many years; COUNT expansions stop there too.
SPAN_YEARS = 400

FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Canonical order of the rule parts; COUNT and UNTIL close the rule.
KEYS = (
    "FREQ",
    "INTERVAL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
    "COUNT",
    "UNTIL",
)
# Numeric BY parts: (lowest, highest, negative values allowed).
RANGES = {
    "BYMONTH": (1, 12, False),
    "BYWEEKNO": (1, 53, True),
    "BYYEARDAY": (1, 366, True),
    "BYMONTHDAY": (1, 31, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
    "BYSECOND": (0, 59, False),
    "BYSETPOS": (1, 366, True),
}
_DU_FREQ: dict[str, Any] = dict(
    zip(FREQS, (du.YEARLY, du.MONTHLY, du.WEEKLY, du.DAILY, du.HOURLY, du.MINUTELY), strict=True)
)
_NUMBER = re.compile(r"[+-]?\d{1,4}")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_INSTANCE = re.compile(r"(?P<series>[^:]+):(?P<stamp>\d{8}T\d{6}Z)")
_STAMP = "%Y%m%dT%H%M%SZ"

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORD = _EPOCH.toordinal()
# 9999-12-30: the last local day every zone can still turn into an instant.
_MAX_ORD = datetime(9999, 12, 30).toordinal()
_MAX_LOCAL_MS = (_MAX_ORD + 1 - _EPOCH_ORD) * DAY_MS - 1000
_MIN_ORD = 2
_SLACK_MS = 16 * 3_600_000


class RecurrenceError(ValueError):
    """A rule the engine refuses; the message says why (the caller answers invalid_rrule)."""


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """A parsed, checked RRULE; UNTIL as a UTC instant, BYDAY as (ordinal or 0, weekday)."""

    freq: str
    interval: int = 1
    count: int | None = None
    until_ms: int | None = None
    bymonth: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byday: tuple[tuple[int, int], ...] = ()
    byhour: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    bysecond: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0

    def text(self) -> str:
        """Return the canonical body: fixed key order, defaults left out, UNTIL in UTC."""
        parts = {"FREQ": self.freq, "INTERVAL": _join([self.interval] if self.interval > 1 else [])}
        for key in RANGES:
            parts[key] = _join(getattr(self, key.lower()))
        parts["BYDAY"] = ",".join(f"{n or ''}{WEEKDAYS[d]}" for n, d in self.byday)
        parts["WKST"] = WEEKDAYS[self.wkst] if self.wkst else ""
        parts["COUNT"] = "" if self.count is None else str(self.count)
        parts["UNTIL"] = "" if self.until_ms is None else utc_stamp(self.until_ms)
        return ";".join(f"{key}={parts[key]}" for key in KEYS if parts[key])


def _join(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


@functools.lru_cache(maxsize=16384)
def parse_rule(text: str, zone: str) -> Rule:
    """Parse and check an RRULE body (an ``RRULE:`` prefix is allowed); raise RecurrenceError."""
    parts = _split_parts(text)
    if "FREQ" not in parts:
        raise RecurrenceError("the rule needs a FREQ (for example FREQ=WEEKLY)")
    freq = parts.pop("FREQ")
    if freq == "SECONDLY":
        raise RecurrenceError("FREQ=SECONDLY is not supported; the finest is FREQ=MINUTELY")
    if freq not in FREQS:
        raise RecurrenceError(f"FREQ must be one of {', '.join(FREQS)}, not {freq!r}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot be used together; choose one")
    values: dict[str, Any] = {"freq": freq}
    for key, value in parts.items():
        values[key.lower()] = _PARSERS[key](key, value, zone)
    rule = Rule(**{("until_ms" if k == "until" else k): v for k, v in values.items()})
    _check_combination(rule)
    return rule


def _split_parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:].strip()
    if not body:
        raise RecurrenceError("the rule is empty; expected something like FREQ=WEEKLY;BYDAY=MO")
    parts: dict[str, str] = {}
    for item in body.rstrip(";").split(";"):
        key, eq, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not eq or not key or not value:
            raise RecurrenceError(f"{item!r} is not a KEY=VALUE rule part")
        if key not in KEYS:
            raise RecurrenceError(f"unknown rule part {key!r}; supported: {', '.join(KEYS)}")
        if key in parts:
            raise RecurrenceError(f"{key} appears twice")
        parts[key] = value
    return parts


def _positive(key: str, value: str, _zone: str) -> int:
    cap = MAX_COUNT if key == "COUNT" else MAX_INTERVAL
    if not value.isdigit() or not 1 <= int(value) <= cap:
        raise RecurrenceError(f"{key} must be a whole number from 1 to {cap}, not {value!r}")
    return int(value)


def _numbers(key: str, value: str, _zone: str) -> tuple[int, ...]:
    low, high, signed = RANGES[key]
    out = set()
    for item in value.split(","):
        number = int(item) if _NUMBER.fullmatch(item) else None
        if (
            number is None
            or (item[0] in "+-" and not signed)
            or not low <= abs(number) <= high
            or (number < 0 and not signed)
        ):
            sign = f"±{low}..±{high}" if signed else f"{low}..{high}"
            raise RecurrenceError(f"{key} values must be in {sign}, not {item!r}")
        out.add(number)
    return tuple(sorted(out))


def _weekdays(key: str, value: str, _zone: str) -> tuple[tuple[int, int], ...]:
    out = set()
    for item in value.split(","):
        match = _BYDAY.fullmatch(item)
        n = int(match[1]) if match and match[1] else 0
        if match is None or (match[1] and not 1 <= abs(n) <= 53):
            raise RecurrenceError(
                f"BYDAY items look like MO, 1FR or -1SU (ordinal ±1..±53), not {item!r}"
            )
        out.add((n, WEEKDAYS.index(match[2])))
    return tuple(sorted(out, key=lambda nd: (nd[1], nd[0])))


def _wkst(key: str, value: str, _zone: str) -> int:
    if value not in WEEKDAYS:
        raise RecurrenceError(f"WKST must be one of {', '.join(WEEKDAYS)}, not {value!r}")
    return WEEKDAYS.index(value)


def _until(key: str, value: str, zone: str) -> int:
    """Turn UNTIL into a UTC instant (ms).

    ``...Z`` is UTC; a local date-time (no Z) is wall-clock time in the series'
    zone; a date means through the end of that local day (23:59:59). A local
    time in a DST gap means "until the clock skipped over it": the last second
    before the gap. An ambiguous local time means its first occurrence (fold=0),
    as for occurrences themselves, so a wall-clock comparison is kept exactly.
    """
    match = _UNTIL.fullmatch(value)
    try:
        moment = datetime.strptime(match[1] + (match[2] or "235959"), "%Y%m%d%H%M%S")  # type: ignore[index]
    except (TypeError, ValueError):
        raise RecurrenceError(
            f"UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ, not {value!r}"
        ) from None
    naive_ms = _naive_ms(moment)
    if match[3]:  # type: ignore[index]
        return naive_ms
    tz = _zone(zone)
    instant = tz.utc(naive_ms)
    return tz.before_gap(naive_ms) if instant is None else instant


_PARSERS: dict[str, Any] = {
    "INTERVAL": _positive,
    "COUNT": _positive,
    "UNTIL": _until,
    "BYDAY": _weekdays,
    "WKST": _wkst,
    **dict.fromkeys(RANGES, _numbers),
}


def _check_combination(rule: Rule) -> None:
    """Refuse what RFC 5545 forbids (MUST NOT) and what the engine cannot do."""
    freq = rule.freq
    if rule.byweekno and freq != "YEARLY":
        raise RecurrenceError("BYWEEKNO is only allowed with FREQ=YEARLY")
    if rule.byyearday and freq in ("MONTHLY", "WEEKLY", "DAILY"):
        raise RecurrenceError(f"BYYEARDAY is not allowed with FREQ={freq}")
    if rule.bymonthday and freq == "WEEKLY":
        raise RecurrenceError("BYMONTHDAY is not allowed with FREQ=WEEKLY")
    if rule.bysetpos and not _has_by_part(rule):
        raise RecurrenceError("BYSETPOS needs another BYxxx rule part to select from")
    _check_ordinals(rule)
    _check_month_days(rule)
    _check_set_positions(rule)


def _has_by_part(rule: Rule) -> bool:
    return any(getattr(rule, key.lower()) for key in (*RANGES, "BYDAY") if key != "BYSETPOS")


def _check_ordinals(rule: Rule) -> None:
    ordinals = [n for n, _ in rule.byday if n]
    if not ordinals:
        return
    if rule.freq not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError(
            f"BYDAY ordinals (1MO, -1FR) need FREQ=MONTHLY or YEARLY, not {rule.freq}"
        )
    if rule.byweekno:
        raise RecurrenceError("BYDAY ordinals cannot be combined with BYWEEKNO")
    if len(ordinals) != len(rule.byday):
        raise RecurrenceError("BYDAY cannot mix weekdays with and without an ordinal (MO,1FR)")
    if (rule.freq == "MONTHLY" or rule.bymonth) and max(abs(n) for n in ordinals) > 5:
        raise RecurrenceError("a BYDAY ordinal within a month must be in ±1..±5")


def _check_month_days(rule: Rule) -> None:
    months = rule.bymonth or tuple(range(1, 13))
    longest = max(calendar.monthrange(2000, m)[1] for m in months)
    if rule.bymonthday and all(abs(d) > longest for d in rule.bymonthday):
        raise RecurrenceError(f"no month of the rule has day {_join(rule.bymonthday)}")


def _check_set_positions(rule: Rule) -> None:
    """Refuse BYSETPOS values beyond what any period holds (a search that never ends)."""
    if not rule.bysetpos:
        return
    parts = {"MINUTELY": (rule.bysecond,), "HOURLY": (rule.byminute, rule.bysecond)}
    times = math.prod(
        len(p) or 1 for p in parts.get(rule.freq, (rule.byhour, rule.byminute, rule.bysecond))
    )
    days = {"YEARLY": 366, "MONTHLY": 31, "WEEKLY": len(rule.byday) or 1}.get(rule.freq, 1)
    if min(abs(p) for p in rule.bysetpos) > days * times:
        raise RecurrenceError(f"BYSETPOS asks for more than the {days * times} times a period has")


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


# --------------------------------------------------------------------------- zones


class _Zone:
    """A zone's wall clock: naive local ms to UTC ms, with per-day offsets cached."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tz = ZoneInfo(name)
        self.days: dict[int, int | None] = {}

    def day_offset(self, ordinal: int) -> int | None:
        """Return the UTC offset (ms) of a whole local day; None when a transition touches it."""
        offset = self.days.get(ordinal, -1)
        if offset != -1:
            return offset
        if len(self.days) > 200_000:  # a bound, not a policy: refilled on demand
            self.days.clear()
        offset = self._constant_offset(ordinal)
        self.days[ordinal] = offset
        return offset

    def _constant_offset(self, ordinal: int) -> int | None:
        # tzdata has no two transitions within 3.9 days of each other (checked
        # over every zone since 1900; the closest: Africa/Freetown, 1939), so
        # equal offsets at both midnights, unambiguous and existing, mean none
        # happens in between.
        if not _MIN_ORD <= ordinal < _MAX_ORD:
            return None
        ends = (datetime.fromordinal(ordinal), datetime.fromordinal(ordinal + 1))
        offsets = {self.offset(end, fold) for end in ends for fold in (0, 1)}
        return offsets.pop() if len(offsets) == 1 else None

    def offset(self, naive: datetime, fold: int = 0) -> int:
        """Return the UTC offset (ms) of a wall-clock time read with the given fold."""
        return _ms(self.tz.utcoffset(naive.replace(fold=fold)))

    def utc(self, local_ms: int) -> int | None:
        """Return the instant of a wall-clock time; None in a gap, the first one in a fold."""
        offset = self.day_offset(local_ms // DAY_MS + _EPOCH_ORD)
        if offset is not None:
            return local_ms - offset
        return self.exact(local_ms)

    def exact(self, local_ms: int) -> int | None:
        """Return the instant of a wall-clock time, asking zoneinfo (PEP 495 folds)."""
        naive = _naive(local_ms)
        first, second = self.offset(naive), self.offset(naive, 1)
        if first < second:  # the clock jumps forward over this time: it never happens
            return None
        return local_ms - first

    def before_gap(self, local_ms: int) -> int:
        """Return the last whole second before the gap that ``local_ms`` falls in."""
        naive = _naive(local_ms)
        before, after = self.offset(naive), self.offset(naive, 1)
        return self.transition(local_ms - after, local_ms - before, before) - 1000

    def transition(self, low_ms: int, high_ms: int, before: int) -> int:
        """Return the first whole second in (low, high] whose offset is no longer ``before``."""
        low, high = low_ms // 1000, high_ms // 1000
        while high - low > 1:
            middle = (low + high) // 2
            if _ms(datetime.fromtimestamp(middle, self.tz).utcoffset()) == before:
                low = middle
            else:
                high = middle
        return high * 1000

    def local_ms(self, utc_ms: int) -> int:
        """Return the naive wall-clock ms of an instant."""
        return _naive_ms(datetime.fromtimestamp(utc_ms // 1000, self.tz).replace(tzinfo=None))


@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> _Zone:
    try:
        return _Zone(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise RecurrenceError(f"unknown time zone {name!r}") from None


def _naive_ms(moment: datetime) -> int:
    days = moment.toordinal() - _EPOCH_ORD
    return (days * 86_400 + moment.hour * 3600 + moment.minute * 60 + moment.second) * 1000


def _naive(local_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=local_ms)


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Series:
    """A series' timing: DTSTART and duration (ms), zone, rule (None: single), recurrence end."""

    start_ms: int
    duration_ms: int
    zone: str
    rule: str | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class _Plan:
    """What one (DTSTART, zone, rule) needs to expand quickly; built once and cached."""

    rule: Rule
    zone: _Zone
    start_ms: int
    start: datetime  # DTSTART as naive wall-clock time, whole seconds
    start_local_ms: int
    kwargs: dict[str, Any]  # dateutil arguments, DTSTART's implied defaults made explicit
    times: tuple[int, ...]  # the times of day (ms) of DAILY and coarser rules
    fast: bool
    origin: int  # DTSTART's local day (ordinal)
    week_days: tuple[int, ...]  # WEEKLY: the selected days, as offsets from the week's start
    month_days: tuple[int, ...]  # MONTHLY, YEARLY: BYMONTHDAY, or DTSTART's day it implies

    @property
    def limit(self) -> int:
        """Return the exclusive upper bound UNTIL puts on starts."""
        return _MAX_LOCAL_MS if self.rule.until_ms is None else self.rule.until_ms + 1


@functools.lru_cache(maxsize=16384)
def _plan(start_ms: int, zone: str, text: str) -> _Plan:
    rule = parse_rule(text, zone)
    tz = _zone(zone)
    start = _naive(tz.local_ms(start_ms))
    kwargs = _explicit(rule, start)
    times = tuple(
        sorted(
            (h * 3600 + m * 60 + s) * 1000
            for h, m, s in itertools.product(
                kwargs["byhour"] or (), kwargs["byminute"] or (), kwargs["bysecond"] or ()
            )
        )
    )
    fast = rule.freq in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY") and not (
        rule.bysetpos
        or rule.byweekno
        or rule.byyearday
        or (rule.freq == "YEARLY" and rule.byday and not rule.bymonth)
    )
    weekdays = kwargs["byweekday"] or ()
    week_days = tuple(sorted({(d.weekday - rule.wkst) % 7 for d in weekdays}))
    month_days = kwargs["bymonthday"] or ()
    return _Plan(
        rule,
        tz,
        start_ms,
        start,
        _naive_ms(start),
        kwargs,
        times,
        fast,
        start.toordinal(),
        week_days,
        month_days,
    )


def _explicit(rule: Rule, start: datetime) -> dict[str, Any]:
    """Return dateutil's arguments with the defaults DTSTART implies written out.

    dateutil fills missing BYxxx parts from DTSTART; a re-anchored DTSTART
    would change them, so they are fixed here once from the real one.
    """
    freq = rule.freq
    day_parts = rule.byweekno or rule.byyearday or rule.bymonthday or rule.byday
    kwargs: dict[str, Any] = {
        "interval": rule.interval,
        "wkst": rule.wkst,
        "bymonth": rule.bymonth or None,
        "byweekno": rule.byweekno or None,
        "byyearday": rule.byyearday or None,
        "bymonthday": rule.bymonthday or None,
        "byweekday": tuple(du.weekday(d, n or None) for n, d in rule.byday) or None,
        "bysetpos": rule.bysetpos or None,
        "byhour": rule.byhour or ((start.hour,) if freq not in ("HOURLY", "MINUTELY") else None),
        "byminute": rule.byminute or ((start.minute,) if freq != "MINUTELY" else None),
        "bysecond": rule.bysecond or (start.second,),
    }
    if not day_parts and freq == "YEARLY":
        kwargs["bymonth"] = rule.bymonth or (start.month,)
    if not day_parts and freq in ("YEARLY", "MONTHLY"):
        kwargs["bymonthday"] = (start.day,)
    if not day_parts and freq == "WEEKLY":
        kwargs["byweekday"] = (du.weekday(start.weekday()),)
    return kwargs


def _rrule(plan: _Plan, dtstart: datetime) -> du.rrule:
    return du.rrule(_DU_FREQ[plan.rule.freq], dtstart=dtstart, cache=False, **plan.kwargs)


# --------------------------------------------------------------------------- expansion


def occurrences(series: Series, window_start_ms: int, window_end_ms: int) -> Iterator[int]:
    """Yield the original starts of the occurrences overlapping [start, end), ascending."""
    return iter(_starts(series, window_start_ms - series.duration_ms + 1, window_end_ms))


def is_occurrence(series: Series, original_start_ms: int) -> bool:
    """Say whether an instant is the original start of one of the series' occurrences."""
    return original_start_ms in _starts(series, original_start_ms, original_start_ms + 1)


def _starts(series: Series, lo: int, hi: int) -> list[int]:
    """Return the occurrence starts in [lo, hi), ascending."""
    start = series.start_ms
    if series.end_ms is not None:
        hi = min(hi, series.end_ms + 1)
    if series.rule is None:
        return [start] if lo <= start < hi else []
    plan = _plan(start, series.zone, series.rule)
    hi = min(hi, plan.limit)
    if lo >= hi:
        return []
    if plan.rule.count is not None:
        counted = _counted(start, series.zone, series.rule)
        return counted[bisect.bisect_left(counted, lo) : bisect.bisect_left(counted, hi)].tolist()
    out = [start] if lo <= start < hi else []
    out.extend(_fast_starts(plan, lo, hi) if plan.fast else _rrule_starts(plan, lo, hi))
    return out


def _fast_starts(plan: _Plan, lo: int, hi: int) -> list[int]:
    """Return the rule's starts after DTSTART in [lo, hi), from the window's days only."""
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
            if utc >= hi:
                return out
            out.append(utc)
    return out


def _rrule_starts(plan: _Plan, lo: int, hi: int) -> list[int]:
    """Return the rule's starts after DTSTART in [lo, hi), dateutil re-anchored near lo."""
    out: list[int] = []
    zone, start = plan.zone, plan.start_ms
    for local in _rrule_locals(plan, lo - DAY_MS, hi + DAY_MS):
        utc = zone.utc(local)
        if utc is None or utc <= start or utc < lo:
            continue
        if utc >= hi:
            break
        out.append(utc)
    return out


def _rrule_locals(plan: _Plan, lo_local: int, hi_local: int) -> Iterator[int]:
    """Yield the rule's naive wall-clock times (ms) in [lo_local, hi_local], via dateutil."""
    lo_local = max(lo_local, plan.start_local_ms)
    try:
        for moment in _rrule(plan, _anchor(plan, _naive(lo_local))):
            local = _naive_ms(moment)
            if local > hi_local:
                return
            if local >= lo_local:
                yield local
    except ValueError:  # MINUTELY with unreachable BYHOUR: dateutil says so mid-way
        return


def _anchor(plan: _Plan, target: datetime) -> datetime:
    """Return the start of the last period of the rule's own grid at or before ``target``.

    Moving DTSTART by whole periods (INTERVAL times the FREQ unit, in wall-clock
    terms) keeps dateutil's sequence, as the implied defaults are explicit;
    a period's start keeps every occurrence of that period (BYSETPOS included).
    """
    first, wanted = _period(plan, plan.start), _period(plan, target)
    steps = (wanted - first) // plan.rule.interval
    if steps <= 0:
        return plan.start
    return _period_start(plan, first + steps * plan.rule.interval)


def _period(plan: _Plan, moment: datetime) -> int:
    freq, ordinal = plan.rule.freq, moment.toordinal()
    if freq == "YEARLY":
        return moment.year
    if freq == "MONTHLY":
        return moment.year * 12 + moment.month - 1
    if freq == "WEEKLY":
        return (ordinal - 1 - plan.rule.wkst) // 7
    if freq == "DAILY":
        return ordinal
    hours = ordinal * 24 + moment.hour
    return hours if freq == "HOURLY" else hours * 60 + moment.minute


def _period_start(plan: _Plan, index: int) -> datetime:
    freq = plan.rule.freq
    if freq == "YEARLY":
        return datetime(index, 1, 1)
    if freq == "MONTHLY":
        return datetime(index // 12, index % 12 + 1, 1)
    if freq == "WEEKLY":
        return datetime.fromordinal(index * 7 + 1 + plan.rule.wkst)
    if freq == "DAILY":
        return datetime.fromordinal(index)
    minutes = index * 60 if freq == "HOURLY" else index
    return datetime.fromordinal(minutes // 1440) + timedelta(minutes=minutes % 1440)


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


def _locals(plan: _Plan, lo_local: int, hi_local: int) -> Iterator[int]:
    """Yield the rule's naive wall-clock times (ms) in [lo_local, hi_local], ascending."""
    if not plan.fast:
        yield from _rrule_locals(plan, lo_local, hi_local)
        return
    lo_local = max(lo_local, plan.start_local_ms)
    first, last = lo_local // DAY_MS + _EPOCH_ORD, min(hi_local // DAY_MS + _EPOCH_ORD, _MAX_ORD)
    for ordinal in _DATES[plan.rule.freq](plan, max(first, _MIN_ORD), last):
        base = (ordinal - _EPOCH_ORD) * DAY_MS
        for time_ms in plan.times:
            if lo_local <= base + time_ms <= hi_local:
                yield base + time_ms


# --------------------------------------------------------------------------- dates


def _daily_dates(plan: _Plan, first: int, last: int) -> Iterable[int]:
    """Return the days of a DAILY rule in [first, last] (ordinals)."""
    step, origin = plan.rule.interval, plan.origin
    days = range(origin + -(-(first - origin) // step) * step, last + 1, step)
    rule = plan.rule
    if not (rule.bymonth or rule.bymonthday or rule.byday):
        return days
    return (d for d in days if _day_matches(rule, d))


def _day_matches(rule: Rule, ordinal: int) -> bool:
    moment = datetime.fromordinal(ordinal)
    if rule.bymonth and moment.month not in rule.bymonth:
        return False
    if rule.byday and (ordinal - 1) % 7 not in {d for _, d in rule.byday}:
        return False
    if not rule.bymonthday:
        return True
    length = calendar.monthrange(moment.year, moment.month)[1]
    return moment.day in rule.bymonthday or moment.day - length - 1 in rule.bymonthday


def _weekly_dates(plan: _Plan, first: int, last: int) -> list[int]:
    """Return the days of a WEEKLY rule in [first, last] (ordinals)."""
    rule = plan.rule
    step = 7 * rule.interval
    week = plan.origin - (plan.origin - 1 - rule.wkst) % 7
    if first > week:
        week += (first - week) // step * step
    out: list[int] = []
    while week <= last:
        out.extend(week + offset for offset in plan.week_days if first <= week + offset <= last)
        week += step
    if rule.bymonth:
        return [d for d in out if datetime.fromordinal(d).month in rule.bymonth]
    return out


def _monthly_dates(plan: _Plan, first: int, last: int) -> Iterator[int]:
    """Yield the days of a MONTHLY rule in [first, last] (ordinals)."""
    rule, start = plan.rule, plan.start
    origin = start.year * 12 + start.month - 1
    low = datetime.fromordinal(first)
    steps = max(0, (low.year * 12 + low.month - 1 - origin) // rule.interval)
    index = origin + steps * rule.interval
    while index < 120_000:  # year 10000
        year, month = divmod(index, 12)
        if datetime(year, month + 1, 1).toordinal() > last:
            return
        if not rule.bymonth or month + 1 in rule.bymonth:
            days = _month_days(plan.month_days, rule.byday, year, month + 1)
            yield from (d for d in days if first <= d <= last)
        index += rule.interval


def _yearly_dates(plan: _Plan, first: int, last: int) -> Iterator[int]:
    """Yield the days of a YEARLY rule (no BYSETPOS, BYWEEKNO, BYYEARDAY) in [first, last]."""
    rule = plan.rule
    months = plan.kwargs["bymonth"] or range(1, 13)
    origin, low = plan.start.year, datetime.fromordinal(first).year
    year = origin + max(0, (low - origin) // rule.interval) * rule.interval
    while year <= 9999 and datetime(year, 1, 1).toordinal() <= last:
        for month in months:
            days = _month_days(plan.month_days, rule.byday, year, month)
            yield from (d for d in days if first <= d <= last)
        year += rule.interval


@functools.lru_cache(maxsize=65536)
def _month_days(
    monthdays: tuple[int, ...], byday: tuple[tuple[int, int], ...], year: int, month: int
) -> tuple[int, ...]:
    """Return the days of one month that BYMONTHDAY and BYDAY select (ordinals, ascending)."""
    weekday, length = calendar.monthrange(year, month)
    days = sorted({d if d > 0 else length + 1 + d for d in monthdays}) or range(1, length + 1)
    base = datetime(year, month, 1).toordinal() - 1
    return tuple(
        base + day
        for day in days
        if 1 <= day <= length
        and (not byday or _weekday_matches(byday, (weekday + day - 1) % 7, day, length))
    )


def _weekday_matches(
    byday: tuple[tuple[int, int], ...], weekday: int, day: int, length: int
) -> bool:
    nth, nth_last = (day - 1) // 7 + 1, -((length - day) // 7 + 1)
    return any(d == weekday and n in (0, nth, nth_last) for n, d in byday)


_DATES: dict[str, Any] = {
    "DAILY": _daily_dates,
    "WEEKLY": _weekly_dates,
    "MONTHLY": _monthly_dates,
    "YEARLY": _yearly_dates,
}


# --------------------------------------------------------------------------- ids and splits


def utc_stamp(ms: int) -> str:
    """Format an instant as UTC basic format, whole seconds: 20260105T090000Z."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime(_STAMP)


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
    if _starts(moved, original_start_ms, original_start_ms + week) != _starts(
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
    starts = _starts(series, series.start_ms, _MAX_LOCAL_MS) or [series.start_ms]
    cut = end is not None and len(starts) < rule.count
    if cut or not _counts_like_clients(_plan(series.start_ms, series.zone, series.rule)):
        rule = dataclasses.replace(rule, count=None, until_ms=starts[-1])
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


def gap_times(series: Series, lo_ms: int, hi_ms: int) -> list[datetime]:
    """Return the rule's wall-clock times in [lo, hi) that fall in a DST gap (naive, local).

    The engine skips them; calendar clients move them past the gap instead,
    so a feed excludes them explicitly. Only times the series' bounds keep
    (UNTIL, recurrence end, the last COUNT occurrence) are returned.
    """
    if series.rule is None:
        return []
    plan = _plan(series.start_ms, series.zone, series.rule)
    limit = plan.limit if series.end_ms is None else min(plan.limit, series.end_ms + 1)
    if plan.rule.count is not None:
        limit = min(limit, _counted(series.start_ms, series.zone, series.rule)[-1] + 1)
    out: list[datetime] = []
    for gap_start, gap_end in _gaps(plan.zone, max(lo_ms, series.start_ms), min(hi_ms, limit)):
        out.extend(_naive(t) for t in _locals(plan, gap_start, gap_end - 1))
    return out


def _gaps(zone: _Zone, lo_ms: int, hi_ms: int) -> list[tuple[int, int]]:
    """Return the wall-clock ranges [start, end) skipped by DST gaps between two instants."""
    if lo_ms >= hi_ms:
        return []
    lo_local, hi_local = zone.local_ms(lo_ms), zone.local_ms(hi_ms)
    return [
        gap
        for year in range(_naive(lo_local).year, _naive(hi_local).year + 1)
        for gap in _year_gaps(zone.name, year)
        if lo_local - DAY_MS <= gap[0] <= hi_local + DAY_MS
    ]


@functools.lru_cache(maxsize=4096)
def _year_gaps(name: str, year: int) -> tuple[tuple[int, int], ...]:
    """Return a zone's DST gaps starting in one local year, as wall-clock ranges."""
    zone = _zone(name)
    lo, hi = datetime(year, 1, 1).toordinal(), datetime(year, 12, 31).toordinal()
    out = []
    for ordinal in range(max(lo, _MIN_ORD), min(hi, _MAX_ORD - 1) + 1):
        if zone.day_offset(ordinal) is None:
            gap = _day_gap(zone, ordinal)
            if gap is not None and gap not in out:
                out.append(gap)
    return tuple(out)


def _day_gap(zone: _Zone, ordinal: int) -> tuple[int, int] | None:
    """Return the gap of a transition day (from its midnight to the next), if it is one."""
    start, end = datetime.fromordinal(ordinal), datetime.fromordinal(ordinal + 1)
    before, after = zone.offset(start), zone.offset(end, 1)
    if after <= before:
        return None
    moment = zone.transition(_naive_ms(start) - before, _naive_ms(end) - after, before)
    return moment + before, moment + after


def _ms(delta: timedelta | None) -> int:
    # zoneinfo always knows the offset of a wall-clock time; None cannot happen.
    return 0 if delta is None else int(delta.total_seconds()) * 1000
