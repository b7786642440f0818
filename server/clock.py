"""The server's clock: the authority for every instant the server hands out."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Return the current wall-clock time in Unix milliseconds."""
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """Format Unix milliseconds as RFC 3339 UTC with millisecond precision."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_or_none(ms: int | None) -> str | None:
    """Format Unix milliseconds, passing None through."""
    return None if ms is None else iso_ms(ms)


def to_ms(dt: datetime) -> int:
    """Convert an aware datetime to Unix milliseconds."""
    return int(dt.timestamp() * 1000)
