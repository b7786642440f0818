"""The server's clock: the authority for every instant the server hands out."""

from __future__ import annotations

import functools
import time
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_ONE_MS = timedelta(milliseconds=1)
_DAY_MS = 86_400_000


def now_ms() -> int:
    """Return the current wall-clock time in Unix milliseconds."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """Format Unix milliseconds as RFC 3339 UTC with millisecond precision."""
    days, rem = divmod(ms, _DAY_MS)
    return f"{_day_text(days)}T{_time_text(rem)}"


def basic_utc(ms: int) -> str:
    """Format Unix milliseconds, truncated to the second, as ``YYYYMMDDTHHMMSSZ``."""
    days, rem = divmod(ms, _DAY_MS)
    return (
        f"{_day_text(days).replace('-', '')}T{_time_text(rem - rem % 1000)[:8].replace(':', '')}Z"
    )


# Instants are formatted from two cached parts: the date (few distinct values in
# any answer, even a year of occurrences) and the time of day (fewer still:
# occurrences repeat their wall-clock times), so no calendar work per instant.
@functools.lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


@functools.lru_cache(maxsize=4096)
def _time_text(ms_of_day: int) -> str:
    hours, rem = divmod(ms_of_day, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    seconds, millis = divmod(rem, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def iso_or_none(ms: int | None) -> str | None:
    """Format Unix milliseconds, passing None through."""
    return None if ms is None else iso_ms(ms)


def to_ms(dt: datetime) -> int:
    """Convert an aware datetime to Unix milliseconds (exact: no float rounding)."""
    return (dt - _EPOCH) // _ONE_MS
