"""A viewer in another zone: the same cells, grouped by the viewer's own dates."""

from __future__ import annotations

from collections import Counter
from datetime import date, time

import pytest

from server.slots import SlotsError, viewer_days
from tests.slots.helpers import grid, ms

NEW_YORK = "America/New_York"


def test_a_tokyo_viewer_of_a_new_york_poll_sees_days_split_where_the_offset_says():
    # Thu 03-05 .. Mon 03-09, 08:00-20:00 by 15 minutes; New York moves to summer
    # time on Sunday 03-08, so Tokyo's midnight falls at 10:00, then at 11:00.
    g = grid(
        start_date=date(2026, 3, 5), end_date=date(2026, 3, 9), available_days=range(7),
        start_time=time(8), end_time=time(20), time_slot_minutes=15, timezone=NEW_YORK,
    )  # fmt: skip

    days = viewer_days(g, "Asia/Tokyo")

    assert [d.day for d in days] == [date(2026, 3, n) for n in range(5, 11)]
    # Tokyo's 03-08 holds New York's 03-07 from 10:00 and 03-08 up to 11:00: 40 + 12.
    assert [len(d.cells) for d in days] == [8, 48, 48, 52, 48, 36]
    assert days[1].cells[0].start == ms("2026-03-05T10:00", NEW_YORK)  # 00:00 in Tokyo
    assert days[1].cells[40].start == ms("2026-03-06T08:00", NEW_YORK)  # 22:00 in Tokyo
    assert days[4].cells[0].start == ms("2026-03-08T11:00", NEW_YORK)  # after the change
    assert tuple(cell for d in days for cell in d.cells) == g.cells  # the cells themselves


def test_a_viewer_in_the_polls_zone_sees_the_polls_days():
    g = grid()

    days = viewer_days(g, "Europe/Berlin")

    assert [(d.day, len(d.cells)) for d in days] == [(date(2026, 6, n), 6) for n in range(1, 6)]
    assert all(cell.day == d.day for d in days for cell in d.cells)


def test_a_viewer_west_of_the_poll_sees_late_cells_on_the_previous_date():
    g = grid(start_time=time(0), end_time=time(4), time_slot_minutes=60, available_days=[2])

    days = viewer_days(g, "America/Los_Angeles")  # Berlin minus 9 hours in June

    assert [d.day for d in days] == [date(2026, 6, 2)]
    assert Counter(cell.day for cell in days[0].cells) == {date(2026, 6, 3): 4}


def test_an_unknown_viewer_zone_is_refused():
    with pytest.raises(SlotsError) as refused:
        viewer_days(grid(), "Tokyo")

    assert [(p.field, p.reason) for p in refused.value.problems] == [("timezone", "unknown_zone")]
