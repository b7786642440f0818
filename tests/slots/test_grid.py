"""The grid: cells in order, wall clock kept across DST, gaps skipped, folds once, validation."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from server.slots import MAX_DAYS, Cell, SlotsError, build_grid
from server.slots import grid as grid_module
from server.slots.definition import check_definition
from tests.slots.helpers import grid, ms, one_day, poll, utc

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"


def walls(cells: tuple[Cell, ...]) -> list[str]:
    return [f"{cell.day:%m-%d} {cell.wall:%H:%M}" for cell in cells]


def test_grid_has_a_cell_per_available_day_and_slot_in_time_order():
    g = grid(available_days=[4, 0, 2], end_time=time(10))

    assert walls(g.cells) == [
        "06-01 09:00", "06-01 09:30", "06-03 09:00", "06-03 09:30", "06-05 09:00", "06-05 09:30",
    ]  # fmt: skip
    assert [cell.position for cell in g.cells] == list(range(6))
    assert g.cells[0] == Cell(
        0, ms("2026-06-01T07:00Z"), ms("2026-06-01T07:30Z"), date(2026, 6, 1), time(9)
    )
    assert g.starts == tuple(cell.start for cell in g.cells)
    assert g.ends == tuple(cell.end for cell in g.cells)
    assert g.index_of(ms("2026-06-03T09:30", BERLIN)) == 3
    assert g.index_of(ms("2026-06-03T09:15", BERLIN)) is None
    assert g.definition.available_days == (0, 2, 4)


@pytest.mark.parametrize(
    ("zone", "before", "after", "utc_before", "utc_after"),
    [
        (BERLIN, date(2026, 3, 28), date(2026, 3, 30), "08:00", "07:00"),
        (BERLIN, date(2026, 10, 24), date(2026, 10, 26), "07:00", "08:00"),
        (NEW_YORK, date(2026, 3, 7), date(2026, 3, 9), "14:00", "13:00"),
        (NEW_YORK, date(2026, 10, 31), date(2026, 11, 2), "13:00", "14:00"),
    ],
)
def test_a_nine_oclock_cell_is_nine_local_on_both_sides_of_a_dst_change(
    zone, before, after, utc_before, utc_after
):
    g = grid(start_date=before, end_date=after, available_days=range(7), timezone=zone)

    nine = [cell for cell in g.cells if cell.wall == time(9)]
    # The change happens at night between the first and the second day.
    assert [utc(cell.start)[-5:] for cell in nine] == [utc_before, utc_after, utc_after]
    assert [cell.day for cell in nine] == [before, date.fromordinal(before.toordinal() + 1), after]
    assert all(cell.end - cell.start == 30 * 60_000 for cell in g.cells)


@pytest.mark.parametrize(
    ("zone", "day", "gone", "first_after"),
    [
        (BERLIN, date(2026, 3, 29), ["02:00", "02:30"], "2026-03-29 01:00"),
        (NEW_YORK, date(2026, 3, 8), ["02:00", "02:30"], "2026-03-08 07:00"),
    ],
)
def test_cells_in_the_spring_gap_are_skipped_and_the_rest_touch(zone, day, gone, first_after):
    g = one_day(day, time(1), time(4), 30, zone)

    assert [f"{cell.wall:%H:%M}" for cell in g.cells] == ["01:00", "01:30", "03:00", "03:30"]
    assert not set(gone) & {f"{cell.wall:%H:%M}" for cell in g.cells}
    assert utc(g.cells[2].start) == first_after
    # 01:30 standard time ends as 03:00 summer time starts.
    assert g.cells[1].end == g.cells[2].start


@pytest.mark.parametrize(
    ("zone", "day", "first_pass", "hole_end"),
    [
        (BERLIN, date(2026, 10, 25), "2026-10-25 00:00", "2026-10-25 02:00"),
        (NEW_YORK, date(2026, 11, 1), "2026-11-01 05:00", "2026-11-01 07:00"),
    ],
)
def test_a_repeated_hour_has_its_cells_once_at_the_first_pass(zone, day, first_pass, hole_end):
    repeated = time(2) if zone == BERLIN else time(1)
    g = one_day(day, time(0), time(4), 30, zone)

    labels = [f"{cell.wall:%H:%M}" for cell in g.cells]
    assert labels == ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]
    first = next(cell for cell in g.cells if cell.wall == repeated)
    assert utc(first.start) == first_pass
    after = g.cells[first.position + 2]  # the wall-clock hour after the repeated one
    assert utc(after.start) == hole_end
    assert after.start - g.cells[first.position + 1].end == 3_600_000  # the second pass: no cell


def test_a_dst_change_inside_a_long_cell_shortens_it_so_cells_never_overlap():
    g = one_day(date(2026, 3, 8), time(0), time(8), 240, NEW_YORK)

    assert [utc(cell.start) for cell in g.cells] == ["2026-03-08 05:00", "2026-03-08 08:00"]
    assert g.cells[0].end == g.cells[1].start  # 00:00 EST to 04:00 EDT is three hours
    assert g.cells[1].end - g.cells[1].start == 4 * 3_600_000


def test_a_day_range_ending_at_midnight_is_written_as_time_zero():
    g = grid(start_time=time(22), end_time=time(0), time_slot_minutes=60, available_days=[0, 1])

    assert walls(g.cells) == ["06-01 22:00", "06-01 23:00", "06-02 22:00", "06-02 23:00"]
    assert g.cells[1].end == ms("2026-06-02T00:00", BERLIN)
    assert g.definition.end_time == time(0)


def test_the_same_definition_gives_the_same_grid_object():
    assert build_grid(poll()) is build_grid(poll(available_days=(4, 3, 2, 1, 0)))
    assert build_grid(poll()) is not build_grid(poll(time_slot_minutes=15))


def test_a_poll_of_366_days_is_accepted_and_one_more_day_is_not():
    first = date(2028, 1, 1)
    assert len(grid(start_date=first, end_date=date(2028, 12, 31), available_days=[0])) == 52 * 6
    with pytest.raises(SlotsError) as refused:
        grid(start_date=first, end_date=date(2029, 1, 1))
    assert [(p.field, p.reason) for p in refused.value.problems] == [("end_date", "too_long")]
    assert f"at most {MAX_DAYS}" in str(refused.value)


BAD_FIELDS: list[tuple[dict[str, Any], str, str]] = [
    ({"start_date": "2026-06-01"}, "start_date", "not_a_date"),
    ({"start_date": datetime(2026, 6, 1)}, "start_date", "not_a_date"),
    ({"end_date": date(2026, 5, 31)}, "end_date", "before_start"),
    ({"start_date": date(1800, 1, 1)}, "start_date", "out_of_range"),
    ({"available_days": []}, "available_days", "empty"),
    ({"available_days": "0123"}, "available_days", "not_a_list"),
    ({"available_days": [0, 7]}, "available_days[1]", "out_of_range"),
    ({"available_days": [0, -1]}, "available_days[1]", "out_of_range"),
    ({"available_days": [True]}, "available_days[0]", "out_of_range"),
    ({"available_days": [2, 2]}, "available_days[1]", "duplicate"),
    ({"available_days": [[1], 2]}, "available_days[0]", "out_of_range"),
    ({"available_days": [5, 6], "end_date": date(2026, 6, 5)}, "available_days", "no_cells"),
    ({"start_time": "09:00"}, "start_time", "not_a_time"),
    ({"end_time": time(12, 0, 30)}, "end_time", "not_whole_minutes"),
    ({"end_time": time(9)}, "end_time", "not_after_start"),
    ({"end_time": time(8)}, "end_time", "not_after_start"),
    ({"time_slot_minutes": 4}, "time_slot_minutes", "out_of_range"),
    ({"time_slot_minutes": 241}, "time_slot_minutes", "out_of_range"),
    ({"time_slot_minutes": 30.0}, "time_slot_minutes", "out_of_range"),
    ({"time_slot_minutes": 40}, "time_slot_minutes", "not_dividing"),
    ({"timezone": "America"}, "timezone", "unknown_zone"),
    ({"timezone": "localtime"}, "timezone", "unknown_zone"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown_zone"),
    ({"timezone": "../../etc/passwd"}, "timezone", "unknown_zone"),
    ({"timezone": None}, "timezone", "unknown_zone"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_FIELDS)
def test_a_bad_definition_is_refused_naming_the_field_and_why(change, field, reason):
    with pytest.raises(SlotsError) as refused:
        grid(**change)

    assert [(p.field, p.reason) for p in refused.value.problems] == [(field, reason)]
    assert refused.value.details()["errors"][0]["field"] == field
    assert str(refused.value) == refused.value.problems[0].message


def test_every_bad_field_is_named_at_once():
    with pytest.raises(SlotsError) as refused:
        grid(
            end_date="soon", available_days=[9], start_time=None, time_slot_minutes=1, timezone="X"
        )

    assert [p.field for p in refused.value.problems] == [
        "end_date", "available_days[0]", "start_time", "time_slot_minutes", "timezone",
    ]  # fmt: skip
    assert refused.value.details()["count"] == 5
    assert str(refused.value).endswith("(and 4 more)")


def test_the_cache_drops_the_oldest_grids_beyond_its_budget_but_keeps_the_newest():
    cache = grid_module._Cache(budget=30)  # a poll() grid has 30 cells
    specs = [check_definition(poll(time_slot_minutes=30, end_time=time(12 - n))) for n in range(3)]

    first = cache.get(specs[0])
    assert cache.get(specs[0]) is first
    cache.get(specs[1])  # 25 cells: 55 in all, so the first goes
    assert list(cache.grids) == [specs[1]]
    assert cache.get(specs[0]) is not first
    big = cache.get(check_definition(poll(time_slot_minutes=5)))  # 180 cells, over the budget
    assert list(cache.grids.values()) == [big]
    assert cache.cells == 180
