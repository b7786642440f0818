"""The zone layer: naive wall-clock times (ms) to instants and back, per time zone.

Local times are naive Unix milliseconds (wall-clock time read as if it were
UTC). A time in a DST gap has no instant; an ambiguous one is read with
fold=0, its first occurrence. Whole days with a constant offset are cached per
zone, and a zone's gaps are found per local year. RecurrenceError lives here,
the lowest layer, because an unknown zone is the first thing the engine refuses.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORD = _EPOCH.toordinal()
# 9999-12-30: the last local day every zone can still turn into an instant.
_MAX_ORD = datetime(9999, 12, 30).toordinal()
_MAX_LOCAL_MS = (_MAX_ORD + 1 - _EPOCH_ORD) * DAY_MS - 1000
_MIN_ORD = 2


class RecurrenceError(ValueError):
    """A rule the engine refuses; the message says why (the caller answers invalid_rrule)."""


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


# --------------------------------------------------------------------------- gaps


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
