"""The recurrence engine alone: 1,000 series of one user, a week and a year of them.

Builds 1,000 recurring series (a third FREQ=DAILY, a third FREQ=WEEKLY on
MO,WE,FR, a third FREQ=MONTHLY on DTSTART's day; four zones, started through
2025) and times, on the engine only (no database, no server):
- a one-week window over all 1,000 (target: well under 15 ms), median of 31,
  plus the first, cold run (empty caches: rules parsed, zone days computed);
- a one-year window over all 1,000 (about 150,000 occurrences; target: well
  under 0.8 s), median of 5;
- one daily series started in 1990 against one started in 2026, a one-week
  window in 2026 (target: within 1.5 times), median of 31 runs of 1,000 calls;
- for comparison, 1,000 series that take the dateutil path (BYSETPOS), a week.

Run: .venv/bin/python bench/recurrence.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.domain.schedules import recurrence
from server.domain.schedules.recurrence import Series, occurrences

ZONES = ("America/New_York", "Europe/Berlin", "Asia/Seoul", "Australia/Sydney")
RULES = ("FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "FREQ=MONTHLY")
HOUR = 3_600_000
DAY = 24 * HOUR
# The week of the 2026 DST change in the US, so the transition path is timed too.
WEEK = (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def ms(moment: datetime) -> int:
    """Return a datetime as Unix ms."""
    return int(moment.timestamp()) * 1000


def build(rules: tuple[str, ...] = RULES, count: int = 1000) -> list[Series]:
    """Return ``count`` series spread over the rules, zones and 2025's days."""
    base = ms(datetime(2025, 1, 1, tzinfo=UTC))
    return [
        Series(
            start_ms=base + (i * 7919 % 365) * DAY + (6 + i % 12) * HOUR,
            duration_ms=(30 + i % 4 * 15) * 60_000,
            zone=ZONES[i % len(ZONES)],
            rule=rules[i % len(rules)],
        )
        for i in range(count)
    ]


def expand(series: list[Series], window: tuple[datetime, datetime]) -> int:
    """Expand every series over the window; return how many occurrences there were."""
    lo, hi = ms(window[0]), ms(window[1])
    return sum(len(list(occurrences(s, lo, hi))) for s in series)


def timed(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Return the median seconds of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def clear_caches() -> None:
    """Empty the engine's caches, as in a fresh process."""
    recurrence._plan.cache_clear()
    recurrence._counted.cache_clear()
    recurrence._zone.cache_clear()


def age_ratio() -> tuple[float, float]:
    """Return the one-week time (s per call) of a 1990 and a 2026 daily series."""
    old = Series(ms(datetime(1990, 1, 1, 9, tzinfo=UTC)), HOUR, "Europe/Berlin", "FREQ=DAILY")
    new = Series(ms(datetime(2026, 1, 1, 9, tzinfo=UTC)), HOUR, "Europe/Berlin", "FREQ=DAILY")
    lo, hi = ms(WEEK[0]), ms(WEEK[1])
    results = []
    for one in (old, new):
        median, _ = timed(lambda one=one: [list(occurrences(one, lo, hi)) for _ in range(1000)], 31)
        results.append(median / 1000)
    return results[0], results[1]


def main() -> None:
    """Print the figures."""
    argparse.ArgumentParser(description=__doc__).parse_args()  # --help; no options
    series = build()
    clear_caches()
    cold, count = timed(lambda: expand(series, WEEK), 1)
    print(f"week, 1,000 series, cold (first call):  {cold * 1000:7.2f} ms  ({count} occurrences)")
    week, count = timed(lambda: expand(series, WEEK), 31)
    print(f"week, 1,000 series, median of 31:       {week * 1000:7.2f} ms  ({count} occurrences)")
    year, count = timed(lambda: expand(series, YEAR), 5)
    print(f"year, 1,000 series, median of 5:        {year * 1000:7.2f} ms  ({count} occurrences)")
    old, new = age_ratio()
    print(
        f"week, one daily series: 1990 {old * 1e6:.1f} us, 2026 {new * 1e6:.1f} us,"
        f" ratio {old / new:.2f}"
    )
    slow = build(
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "FREQ=WEEKLY;BYDAY=MO,TH;BYSETPOS=1")
    )
    dateutil_week, count = timed(lambda: expand(slow, WEEK), 31)
    label = "week, 1,000 dateutil-path series:"
    print(f"{label:40}{dateutil_week * 1000:7.2f} ms  ({count} occurrences)")


if __name__ == "__main__":
    main()
