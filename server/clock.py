"""The server's clock: the authority for every instant the server hands out."""

from __future__ import annotations

import functools
import time
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_ONE_MS = timedelta(milliseconds=1)


def now_ms() -> int:
    """Return the current wall-clock time in Unix milliseconds."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """Format Unix milliseconds as RFC 3339 UTC with millisecond precision."""
    seconds, millis = divmod(ms, 1000)
    days, second_of_day = divmod(seconds, 86_400)
    return f"{_day_text(days)}T{_time_text(second_of_day)}.{millis:03d}Z"


def basic_utc(ms: int) -> str:
    """Format Unix milliseconds, truncated to the second, as ``YYYYMMDDTHHMMSSZ``."""
    days, second_of_day = divmod(ms // 1000, 86_400)
    return f"{_day_text(days).replace('-', '')}T{_time_text(second_of_day).replace(':', '')}Z"


# Instants are formatted from two cached parts: the date (few distinct values in
# any answer, even a year of occurrences) and the second of the day (the same few
# for "now" and for occurrences repeating their wall-clock times): no calendar
# work per instant.
@functools.lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


@functools.lru_cache(maxsize=8192)
def _time_text(second_of_day: int) -> str:
    hours, rem = divmod(second_of_day, 3600)
    return f"{hours:02d}:{rem // 60:02d}:{rem % 60:02d}"


def iso_or_none(ms: int | None) -> str | None:
    """Format Unix milliseconds, passing None through."""
    return None if ms is None else iso_ms(ms)


def to_ms(dt: datetime) -> int:
    """Convert an aware datetime to Unix milliseconds (exact: no float rounding)."""
    return (dt - _EPOCH) // _ONE_MS
