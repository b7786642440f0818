"""Instants as wall-clock text in one zone, fast enough for a million rows. Pure.

A zone's offset is looked up once per UTC hour: an hour whose first and last
millisecond share an offset has no transition inside (tzdata never has two
transitions within days of each other), so every instant in it has that
offset; an hour with a transition inside is asked of zoneinfo per instant.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from server.clock import to_ms

HOUR_MS = 3_600_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Hours of offsets kept per clock: a bound on memory, not a policy (refilled on demand).
_MAX_HOURS = 100_000


class LocalClock:
    """Write Unix milliseconds as dates, times and RFC 3339 text in one zone."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self._tz = ZoneInfo(zone)
        self._hours: dict[int, int | None] = {}
        # UTC itself is written with Z, as every other instant of the API is.
        self._utc = zone in ("UTC", "Etc/UTC")

    def offset_ms(self, ms: int) -> int:
        """Return the zone's UTC offset at the instant ``ms``."""
        hour = ms // HOUR_MS
        offset = self._hours.get(hour, -1)
        if offset == -1:
            offset = self._hour_offset(hour)
        return self._exact(ms) if offset is None else offset

    def date_time(self, ms: int) -> tuple[str, str]:
        """Return the local ``YYYY-MM-DD`` and ``HH:MM:SS`` (milliseconds dropped)."""
        days, second = divmod((ms + self.offset_ms(ms)) // 1000, 86_400)
        return day_text(days), clock_text(second)

    def iso(self, ms: int) -> str:
        """Return RFC 3339 with milliseconds and the zone's offset (``...T01:30:00.000+01:00``)."""
        offset = self.offset_ms(ms)
        local = ms + offset
        days, second = divmod(local // 1000, 86_400)
        suffix = "Z" if self._utc else offset_text(offset)
        return f"{day_text(days)}T{clock_text(second)}.{local % 1000:03d}{suffix}"

    def day_start(self, day: date) -> int:
        """Return the first instant of a local day (a midnight in a DST gap: the jump)."""
        return to_ms(datetime.combine(day, time(), tzinfo=self._tz))

    def _hour_offset(self, hour: int) -> int | None:
        if len(self._hours) >= _MAX_HOURS:
            self._hours.clear()
        first, last = self._exact(hour * HOUR_MS), self._exact((hour + 1) * HOUR_MS - 1)
        offset = first if first == last else None
        self._hours[hour] = offset
        return offset

    def _exact(self, ms: int) -> int:
        utc = datetime.fromtimestamp(ms // 1000, UTC)
        delta = utc.astimezone(self._tz).utcoffset()
        return 0 if delta is None else int(delta.total_seconds() * 1000)


@functools.lru_cache(maxsize=8192)
def day_text(days: int) -> str:
    """Return ``YYYY-MM-DD`` of a day counted from 1970-01-01."""
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


@functools.lru_cache(maxsize=86_400)
def clock_text(second: int) -> str:
    """Return ``HH:MM:SS`` of a second of the day."""
    hours, rest = divmod(second, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@functools.lru_cache(maxsize=256)
def offset_text(offset_ms: int) -> str:
    """Return ``+HH:MM`` of an offset (RFC 3339 has no seconds: pre-1900 LMT loses them)."""
    sign = "-" if offset_ms < 0 else "+"
    minutes = abs(offset_ms) // 60_000
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def duration_text(ms: int) -> str:
    """Return a duration as ``HH:MM:SS`` (hours past 99 take more digits; ms truncated)."""
    hours, rest = divmod(max(0, ms) // 1000, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
