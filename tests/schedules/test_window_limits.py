"""Limited reads: a page after a cursor, and a capped count, agree with the whole window.

``window_items`` with a ``limit`` asks the engine for no more starts than the
page needs, and ``count_items`` stops past its cap; both must answer exactly
what reading the whole window and cutting it gives, for series of every
density, long occurrences that overlap a cursor, and moved and cancelled ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain.schedules.expand import SINGLE, count_items, window_items
from server.domain.schedules.recurrence import instance_id, normalize_rule, occurrences
from server.domain.schedules.series import last_end, series_of

HOUR = 3_600_000
DAY = 24 * HOUR
BASE = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 1000
RULES = [
    None,
    "FREQ=MINUTELY;INTERVAL=97",
    "FREQ=HOURLY;BYMINUTE=0,30",
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=20",
    "FREQ=MONTHLY;BYMONTHDAY=1,15",
]
ZONES = ["UTC", "America/New_York", "Europe/Berlin"]


@st.composite
def series(draw: st.DrawFn, index: int) -> tuple[dict, list[dict]]:
    """Draw a series or single schedule near March 2026, with some overrides."""
    zone = draw(st.sampled_from(ZONES))
    local = datetime(2026, 2, 1, 4) + timedelta(minutes=draw(st.integers(0, 56 * 1440)))
    start = int(local.replace(tzinfo=ZoneInfo(zone)).timestamp()) * 1000
    rule = draw(st.sampled_from(RULES))
    duration = draw(st.sampled_from([60_000, HOUR, 2 * DAY]))
    row = {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "start_at": start,
        "end_at": start + duration,
        "timezone": zone,
        "recurrence_rule": None if rule is None else normalize_rule(rule, start, zone),
        "recurrence_end": None,
    }
    row["last_end"] = last_end(row)
    if rule is None:
        return row, []
    near = list(occurrences(series_of(row), BASE, BASE + 40 * DAY))[:300]
    changed = draw(st.lists(st.sampled_from(near), unique=True, max_size=6)) if near else []
    overrides = []
    for original in changed:
        shift = draw(st.sampled_from([None, 0, HOUR, -3 * DAY, 5 * DAY]))
        overrides.append(
            {
                "series_id": row["id"],
                "original_start": original,
                "cancelled": shift is None,
                "start_at": original + (shift or 0),
                "end_at": original + (shift or 0) + duration,
            }
        )
    return row, overrides


def ident(item: tuple) -> str:
    """Return the wire id of a window item (what a cursor names)."""
    return item[1] if item[2] == SINGLE else instance_id(item[1], item[2])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    count=st.integers(1, 4),
    offset=st.integers(0, 30 * DAY),
    length=st.sampled_from([HOUR, DAY, 9 * DAY, 40 * DAY]),
    limit=st.integers(1, 40),
)
def test_pages_and_counts_cut_the_whole_window(data, count, offset, length, limit):
    drawn = [data.draw(series(i)) for i in range(count)]
    rows = [row for row, _ in drawn]
    overrides = [o for _, own in drawn for o in own]
    lo, hi = BASE + offset, BASE + offset + length
    whole = [item[:3] for item in window_items(rows, overrides, lo, hi)]
    for cap in {0, limit, len(whole) - 1, len(whole)} - {-1}:
        assert count_items(rows, overrides, lo, hi, cap) == min(len(whole), cap + 1)
    after, pages = None, []
    while True:
        page = list(window_items(rows, overrides, lo, hi, after, limit))
        pages += [item[:3] for item in page]
        if len(page) < limit:
            break
        after = (page[-1][0], ident(page[-1]))
    assert pages == whole


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), back=st.integers(1, 3 * DAY), limit=st.integers(1, 40))
def test_a_cursor_before_the_window_still_gives_what_follows_it(data, back, limit):
    drawn = [data.draw(series(i)) for i in range(3)]
    rows = [row for row, _ in drawn]
    overrides = [o for _, own in drawn for o in own]
    lo, hi = BASE + 10 * DAY, BASE + 12 * DAY
    whole = [item[:3] for item in window_items(rows, overrides, lo, hi)]
    after = (lo - back, rows[1]["id"])
    position = (after[0], after[1], SINGLE)
    page = [item[:3] for item in window_items(rows, overrides, lo, hi, after, limit)]
    assert page == [key for key in whole if key > position][:limit]
