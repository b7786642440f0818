"""The server's clock: the authority for every instant the server hands out."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def now_ms() -> int:
    """Return the current wall-clock time in Unix milliseconds."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """Format Unix milliseconds as RFC 3339 UTC with millisecond precision."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second_text(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=256)
def _second_text(seconds: int) -> str:
    # Every frame carries instants, mostly of the same few seconds: format each once.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_or_none(ms: int | None) -> str | None:
    """Format Unix milliseconds, passing None through."""
    return None if ms is None else iso_ms(ms)


def to_ms(dt: datetime) -> int:
    """Convert an aware datetime to Unix milliseconds (exact: no float rounding)."""
    return (dt - _EPOCH) // _ONE_MS
