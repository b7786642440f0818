"""The recurrence engine: RFC 5545 rules expanded in the series' own time zone.

python-dateutil does the rule arithmetic on naive wall-clock times; this module
is the zone layer: it turns each wall-clock time into an instant, skips local
times that do not exist (the DST gap; RFC 5545: skipped and not counted), takes
the first of two ambiguous ones (fold=0), and always yields DTSTART first, as
calendar clients do. Rules without COUNT are not iterated from DTSTART: the
rule is re-anchored a whole number of periods later, just before the window,
with the defaults DTSTART implied made explicit, so a series started in 1990
costs what a new one does. COUNT rules (at most MAX_COUNT occurrences) are
expanded once and cached.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du

MAX_COUNT = 10_000
# 9999-12-30: the last instant every zone can still write as a local date-time.
MAX_MS = 253_402_128_000_000
KEYS = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "WKST",
    "BYSETPOS",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
)
FREQS: dict[str, Any] = {
    "YEARLY": du.YEARLY,
    "MONTHLY": du.MONTHLY,
    "WEEKLY": du.WEEKLY,
    "DAILY": du.DAILY,
    "HOURLY": du.HOURLY,
    "MINUTELY": du.MINUTELY,
}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Value ranges of the numeric BY parts: (low, high, negatives allowed).
RANGES = {
    "BYMONTH": (1, 12, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
    "BYSECOND": (0, 59, False),
    "BYSETPOS": (1, 366, True),
}
_BYDAY = re.compile(r"(?P<n>[+-]?\d{1,2})?(?P<day>MO|TU|WE|TH|FR|SA|SU)")
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_STAMP = "%Y%m%dT%H%M%SZ"
_INSTANCE = re.compile(r"^(?P<series>[0-9a-f-]{36}):(?P<stamp>\d{8}T\d{6}Z)$")


class RecurrenceError(ValueError):
    """A rule the engine refuses; the message says why (the caller answers invalid_rrule)."""


@dataclass(frozen=True)
class Series:
    """A series' timing: DTSTART, duration, zone, normalised rule, recurrence end (all ms)."""

    start_ms: int
    duration_ms: int
    zone: str
    rule: str | None
    end_ms: int | None = None


# ----------------------------------------------------------------------------- rules


def normalize_rule(text: str, start_ms: int, zone: str) -> str:
    """Check an RRULE body and return its canonical form (UNTIL in UTC), or raise.

    A rule must produce an occurrence after DTSTART within a century, so an
    impossible one (BYMONTH=2;BYMONTHDAY=30) is refused instead of spinning.
    """
    parts = _parse(text)
    tz = ZoneInfo(zone)
    if "UNTIL" in parts:
        parts["UNTIL"] = _until_utc(parts["UNTIL"], tz).strftime(_STAMP)
    body = _join(parts)
    local_start = _local(start_ms, tz)
    try:
        kwargs = _explicit(parts, local_start)
    except (ValueError, TypeError, IndexError) as exc:
        raise RecurrenceError(f"invalid recurrence rule: {exc}") from None
    rule = du.rrule(
        FREQS[parts["FREQ"]],
        dtstart=local_start,
        interval=int(parts.get("INTERVAL", "1")),
        until=local_start.replace(year=min(local_start.year + 100, 9999)),
        cache=False,
        **kwargs,
    )
    if rule.after(local_start) is None:
        raise RecurrenceError("the rule has no occurrence after DTSTART within 100 years")
    return body


def _join(parts: dict[str, str]) -> str:
    return ";".join(f"{key}={parts[key]}" for key in KEYS if key in parts)


def _parse(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body:
        raise RecurrenceError("the recurrence rule is empty")
    parts: dict[str, str] = {}
    for item in body.split(";"):
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise RecurrenceError(f"{item!r} is not KEY=VALUE")
        if key not in KEYS:
            raise RecurrenceError(f"{key} is not a supported rule part")
        if key in parts:
            raise RecurrenceError(f"{key} appears twice")
        parts[key] = value
    _check(parts)
    return parts


def _check(parts: dict[str, str]) -> None:
    freq = parts.get("FREQ")
    if freq is None:
        raise RecurrenceError("FREQ is required")
    if freq == "SECONDLY":
        raise RecurrenceError("FREQ=SECONDLY is not supported")
    if freq not in FREQS:
        raise RecurrenceError(f"unknown FREQ {freq}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL cannot be used together")
    for key in ("COUNT", "INTERVAL"):
        if key in parts:
            value = parts[key]
            if not value.isdigit() or int(value) < 1:
                raise RecurrenceError(f"{key} must be a positive integer")
    if int(parts.get("COUNT", "1")) > MAX_COUNT:
        raise RecurrenceError(f"COUNT is at most {MAX_COUNT}")
    if int(parts.get("INTERVAL", "1")) > 1000:
        raise RecurrenceError("INTERVAL is at most 1000")
    for key, (low, high, signed) in RANGES.items():
        for item in parts.get(key, "").split(",") if key in parts else ():
            _require_number(key, item, low, high, signed)
    for item in parts["BYDAY"].split(",") if "BYDAY" in parts else ():
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise RecurrenceError(f"BYDAY {item} is not a weekday like MO, 1MO or -1FR")
        if match["n"]:
            _require_number("BYDAY", match["n"], 1, 53, True)
    if parts.get("WKST", "MO") not in WEEKDAYS:
        raise RecurrenceError("WKST must be one of MO, TU, WE, TH, FR, SA, SU")


def _require_number(key: str, item: str, low: int, high: int, signed: bool) -> None:
    try:
        value = int(item)
    except ValueError:
        raise RecurrenceError(f"{key} holds {item!r}, not a number") from None
    size = abs(value) if signed else value
    if not low <= size <= high or (value < 0 and not signed):
        raise RecurrenceError(f"{key} values lie in {'±' if signed else ''}{low}..{high}")


def _until_utc(value: str, zone: ZoneInfo) -> datetime:
    """Read UNTIL: UTC (…Z), local wall time (fold=0), or a date (through its local end)."""
    try:
        if re.fullmatch(r"\d{8}", value):
            day = datetime.strptime(value, "%Y%m%d")
            local = datetime.combine(day.date(), time(23, 59, 59))
            return local.replace(tzinfo=zone).astimezone(UTC)
        if re.fullmatch(r"\d{8}T\d{6}Z", value):
            return datetime.strptime(value, _STAMP).replace(tzinfo=UTC)
        if re.fullmatch(r"\d{8}T\d{6}", value):
            return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        pass
    raise RecurrenceError(f"UNTIL {value} is not a date or date-time")


# ----------------------------------------------------------------------------- zone layer


def _local(ms: int, zone: ZoneInfo) -> datetime:
    """Return the naive wall-clock time of an instant in ``zone``."""
    return datetime.fromtimestamp(ms / 1000, zone).replace(tzinfo=None, fold=0)


def _instant(local: datetime, zone: ZoneInfo) -> int | None:
    """Return the instant (ms) of a wall-clock time, None when it does not exist (the gap).

    fold=0 and fold=1 give the offsets before and after a transition: in a gap
    the later one is larger (clocks went forward); in a fold, fold=0 is the first.
    """
    before = zone.utcoffset(local)
    after = zone.utcoffset(local.replace(fold=1))
    if before is None or after is None:
        return _naive_ms(local)
    if before < after:
        return None
    return _naive_ms(local - before)


def _naive_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // _MS


# ----------------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class _Compiled:
    zone: ZoneInfo
    freq: Any
    interval: int
    kwargs: dict[str, Any]
    until_ms: int | None
    starts: tuple[int, ...] | None  # every occurrence, for COUNT rules
    local_start: datetime


@functools.lru_cache(maxsize=4096)
def _compile(series: Series) -> _Compiled:
    zone = ZoneInfo(series.zone)
    local_start = _local(series.start_ms, zone)
    parts = _parse(series.rule or "")
    until_ms = None
    if "UNTIL" in parts:
        until_ms = _naive_ms(datetime.strptime(parts["UNTIL"], _STAMP))
    if series.end_ms is not None:
        until_ms = series.end_ms if until_ms is None else min(until_ms, series.end_ms)
    freq = FREQS[parts["FREQ"]]
    interval = int(parts.get("INTERVAL", "1"))
    kwargs = _explicit(parts, local_start)
    compiled = _Compiled(zone, freq, interval, kwargs, until_ms, None, local_start)
    if "COUNT" in parts:
        starts = tuple(_counted(compiled, series.start_ms, int(parts["COUNT"])))
        compiled = _Compiled(zone, freq, interval, kwargs, until_ms, starts, local_start)
    return compiled


def _explicit(parts: dict[str, str], start: datetime) -> dict[str, Any]:
    """Return dateutil's rrule arguments with the defaults DTSTART implies made explicit."""
    # dateutil resolves the defaults DTSTART implies (BYDAY of a weekly rule,
    # BYHOUR of a daily one, ...) into these attributes; 2.x keeps them stable.
    parsed: Any = du.rrulestr(
        "RRULE:" + ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("COUNT", "UNTIL")),
        dtstart=start,
    )
    kwargs: dict[str, Any] = {
        "wkst": parsed._wkst,
        "bysetpos": parsed._bysetpos,
        "bymonth": parsed._bymonth,
        "bymonthday": tuple(parsed._bymonthday) + tuple(parsed._bynmonthday) or None,
        "byyearday": parsed._byyearday,
        "byweekno": parsed._byweekno,
        "byweekday": _weekdays(parsed),
        "byhour": parsed._byhour,
        "byminute": parsed._byminute,
        "bysecond": parsed._bysecond,
    }
    return {k: v for k, v in kwargs.items() if v not in (None, ())}


def _weekdays(parsed: Any) -> tuple[Any, ...] | None:
    plain = tuple(du.weekday(d) for d in parsed._byweekday or ())
    nth = tuple(du.weekday(d, n) for d, n in parsed._bynweekday or ())
    return (plain + nth) or None


def _rule_from(compiled: _Compiled, anchor: datetime, until: datetime) -> du.rrule:
    return du.rrule(
        compiled.freq,
        dtstart=anchor,
        interval=compiled.interval,
        until=until,
        cache=False,
        **compiled.kwargs,
    )


def _counted(compiled: _Compiled, start_ms: int, count: int) -> Iterator[int]:
    """Yield a COUNT rule's occurrences: DTSTART first, gap times skipped and not counted."""
    yield start_ms
    made = 1
    horizon = compiled.local_start.replace(year=min(compiled.local_start.year + 200, 9999))
    for local in _rule_from(compiled, compiled.local_start, horizon):
        if made >= count:
            return
        ms = _instant(local, compiled.zone)
        if ms is None or ms == start_ms:
            continue
        if compiled.until_ms is not None and ms > compiled.until_ms:
            return
        made += 1
        yield ms


def occurrences(series: Series, window_start_ms: int, window_end_ms: int) -> Iterator[int]:
    """Yield the original starts (ms) of occurrences overlapping [start, end), ascending."""
    lo = window_start_ms - series.duration_ms  # an occurrence overlaps iff lo < start < end
    if series.rule is None:
        if lo < series.start_ms < window_end_ms:
            yield series.start_ms
        return
    compiled = _compile(series)
    if compiled.starts is not None:
        index = bisect.bisect_right(compiled.starts, lo)
        for ms in compiled.starts[index:]:
            if ms >= window_end_ms:
                return
            yield ms
        return
    yield from _open(series, compiled, lo, window_end_ms)


def _open(series: Series, compiled: _Compiled, lo: int, hi: int) -> Iterator[int]:
    if lo < series.start_ms < hi:
        yield series.start_ms
    # A day of margin covers any UTC offset between the window and local time.
    target = _local(max(lo, series.start_ms), compiled.zone) - timedelta(days=1)
    anchor = _anchor(compiled, target)
    # The iteration stops two days past the window whatever the rule, so a sparse
    # rule cannot spin through empty periods up to year 9999.
    horizon = _local(min(hi, MAX_MS), compiled.zone) + timedelta(days=2)
    for local in _rule_from(compiled, anchor, horizon):
        ms = _instant(local, compiled.zone)
        if ms is None or ms <= series.start_ms:
            continue
        if ms >= hi or (compiled.until_ms is not None and ms > compiled.until_ms):
            return
        if ms > lo:
            yield ms


def _anchor(compiled: _Compiled, target: datetime) -> datetime:
    """Return the latest period start at or before ``target`` that keeps the rule's sequence."""
    start, n = compiled.local_start, compiled.interval
    if target <= start:
        return start
    freq = compiled.freq
    if freq == du.YEARLY:
        k = (target.year - start.year) // n
        return start if k == 0 else datetime(start.year + k * n, 1, 1)
    if freq == du.MONTHLY:
        months = (target.year - start.year) * 12 + target.month - start.month
        k = months // n
        if k == 0:
            return start
        index = start.year * 12 + start.month - 1 + k * n
        return datetime(index // 12, index % 12 + 1, 1)
    if freq == du.WEEKLY:
        week = start.date() - timedelta(days=(start.weekday() - compiled.kwargs.get("wkst", 0)) % 7)
        k = (target.date() - week).days // (7 * n)
        return start if k == 0 else datetime.combine(week + timedelta(weeks=k * n), time())
    if freq == du.DAILY:
        k = (target.date() - start.date()).days // n
        return start if k == 0 else datetime.combine(start.date() + timedelta(days=k * n), time())
    step = timedelta(hours=n) if freq == du.HOURLY else timedelta(minutes=n)
    k = (target - start) // step
    anchored = start + k * step
    return anchored.replace(second=0, minute=0 if freq == du.HOURLY else anchored.minute)


def is_occurrence(series: Series, original_start_ms: int) -> bool:
    """Say whether ``original_start_ms`` is an occurrence of the series."""
    return original_start_ms in occurrences(series, original_start_ms, original_start_ms + 1)


# ----------------------------------------------------------------------------- ids and splits


def instance_id(series_id: str, original_start_ms: int) -> str:
    """Return an occurrence's stable id: ``<series id>:<original start, UTC basic format>``."""
    stamp = datetime.fromtimestamp(original_start_ms // 1000, UTC).strftime(_STAMP)
    return f"{series_id}:{stamp}"


def parse_instance_id(text: str) -> tuple[str, int] | None:
    """Split an occurrence id into its series id and original start; None for a series id."""
    match = _INSTANCE.match(text)
    if match is None:
        return None
    moment = datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)
    return match["series"], int(moment.timestamp()) * 1000


def split_rule(series: Series, original_start_ms: int) -> tuple[str | None, str | None]:
    """Return the rules of the part before an occurrence and of the part from it on.

    The first part ends one second before the occurrence (COUNT becomes that
    UNTIL); None when nothing precedes. The second keeps UNTIL, or counts what remains.
    """
    parts = _parse(series.rule or "")
    compiled = _compile(series)
    head = None
    if original_start_ms > series.start_ms:
        before = {k: v for k, v in parts.items() if k != "COUNT"}
        cut = datetime.fromtimestamp(original_start_ms // 1000 - 1, UTC).strftime(_STAMP)
        before["UNTIL"] = cut if "UNTIL" not in before else min(before["UNTIL"], cut)
        head = _join(before)
    tail = dict(parts)
    if compiled.starts is not None:
        remaining = len(compiled.starts) - bisect.bisect_left(compiled.starts, original_start_ms)
        if remaining <= 0:
            return head, None
        tail["COUNT"] = str(remaining)
    return head, _join(tail)
