"""Participants' input: cell starts, ranges (first and last cells alike), merging, refusals."""

from __future__ import annotations

from datetime import date, time

import pytest

from server.slots import (
    MAX_INPUT,
    Kept,
    SlotsError,
    build_grid,
    cells_from_ranges,
    cells_from_starts,
    keep_cells,
)
from tests.slots.helpers import grid, ms, one_day, poll

B = "Europe/Berlin"


def at(wall: str, zone: str = B) -> int:
    return ms(f"2026-06-{wall}", zone)


def refusals(action) -> list[tuple[str, str]]:
    with pytest.raises(SlotsError) as refused:
        action()
    return [(p.field, p.reason) for p in refused.value.problems]


def test_cell_starts_come_back_sorted_and_once_each():
    g = grid()
    starts = [at("02T10:00"), at("01T09:00"), at("02T10:00"), at("01T09:00")]

    assert cells_from_starts(g, starts) == (at("01T09:00"), at("02T10:00"))
    assert cells_from_starts(g, []) == ()


def test_every_instant_that_starts_no_cell_is_named_with_its_reason():
    g = grid()  # Mon 06-01 .. Fri 06-05 09:00-12:00 by 30 minutes in Berlin
    starts = [
        at("01T09:00"),  # fine
        at("08T09:00"),  # the next Monday: after end_date
        at("06T09:00"),  # Saturday
        at("02T08:30"),  # before the daily range
        at("02T12:00"),  # end_time is exclusive
        at("02T09:15"),  # between slots
        at("02T09:00") + 1,  # one millisecond off
        10**16,  # far beyond any date
        -(10**18),
        "2026-06-01T09:00:00Z",
        True,
        at("01T09:00") / 1,
    ]

    assert refusals(lambda: cells_from_starts(g, starts)) == [
        ("cells[1]", "outside_dates"),
        ("cells[2]", "day_not_available"),
        ("cells[3]", "outside_daily_range"),
        ("cells[4]", "outside_daily_range"),
        ("cells[5]", "not_on_slot_boundary"),
        ("cells[6]", "not_on_slot_boundary"),
        ("cells[7]", "outside_dates"),
        ("cells[8]", "outside_dates"),
        ("cells[9]", "not_an_instant"),
        ("cells[10]", "not_an_instant"),
        ("cells[11]", "not_an_instant"),
    ]


def test_refusal_messages_name_the_instant_in_utc_and_the_local_time():
    g = grid()
    with pytest.raises(SlotsError) as refused:
        cells_from_starts(g, [at("06T09:00"), at("02T09:15")])

    saturday, between = (p.message for p in refused.value.problems)
    assert saturday.startswith("cells[0] 2026-06-06T07:00:00.000Z is 09:00 on Saturday 2026-06-06")
    assert "not one of the poll's days" in saturday
    assert "09:15 on Tuesday 2026-06-02 in Europe/Berlin" in between
    assert "not on a 30-minute boundary from 09:00" in between


def test_the_second_pass_of_a_repeated_hour_is_no_cell():
    g = one_day(date(2026, 11, 1), time(0), time(4), 30, "America/New_York")
    first, second = (ms("2026-11-01T01:30", "America/New_York", fold) for fold in (0, 1))

    assert cells_from_starts(g, [first]) == (first,)
    assert refusals(lambda: cells_from_starts(g, [second])) == [("cells[0]", "repeated_time")]


def test_input_size_and_shape_are_bounded():
    g = grid()
    too_many = [at("01T09:00")] * (MAX_INPUT + 1)

    assert refusals(lambda: cells_from_starts(g, too_many)) == [("cells", "too_many")]
    assert refusals(lambda: cells_from_ranges(g, [(0, 1)] * (MAX_INPUT + 1))) == [
        ("ranges", "too_many")
    ]
    assert refusals(lambda: cells_from_starts(g, "09:00")) == [("cells", "not_a_list")]
    assert refusals(lambda: cells_from_ranges(g, {(1, 2)})) == [("ranges", "not_a_list")]
    assert len(cells_from_starts(g, [at("01T09:00")] * MAX_INPUT)) == 1


def test_details_name_at_most_a_hundred_problems_and_count_them_all():
    g = grid()
    with pytest.raises(SlotsError) as refused:
        cells_from_starts(g, [at("01T09:00") + n for n in range(1, 151)])

    details = refused.value.details()
    assert details["count"] == 150
    assert len(details["errors"]) == 100
    assert details["errors"][99]["field"] == "cells[99]"
    assert str(refused.value).endswith("(and 149 more)")


def test_a_range_covers_its_partly_covered_first_and_last_cells():
    g = grid()

    assert cells_from_ranges(g, [(at("01T09:10"), at("01T10:05"))]) == (
        at("01T09:00"), at("01T09:30"), at("01T10:00"),
    )  # fmt: skip
    assert cells_from_ranges(g, [(at("01T09:29"), at("01T09:31"))]) == (
        at("01T09:00"), at("01T09:30"),
    )  # fmt: skip
    assert cells_from_ranges(g, [(at("01T09:40"), at("01T09:41"))]) == (at("01T09:30"),)


def test_a_range_touching_a_cell_only_at_its_edge_does_not_cover_it():
    g = grid()

    assert cells_from_ranges(g, [(at("01T09:30"), at("01T10:00"))]) == (at("01T09:30"),)
    assert cells_from_ranges(g, [(at("01T09:00"), at("01T12:00"))]) == tuple(
        at(f"01T{h}") for h in ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30")
    )


def test_overlapping_and_repeated_ranges_are_merged():
    g = grid()
    ranges = [
        (at("01T09:00"), at("01T10:00")),
        (at("01T09:45"), at("01T10:15")),
        (at("01T09:00"), at("01T10:00")),
        (at("02T11:00"), at("02T12:00")),
    ]

    assert cells_from_ranges(g, ranges) == (
        at("01T09:00"), at("01T09:30"), at("01T10:00"), at("02T11:00"), at("02T11:30"),
    )  # fmt: skip


def test_every_range_reaching_outside_the_grid_is_named():
    g = grid()
    ranges = [
        (at("01T09:00"), at("01T09:30")),  # fine
        (at("01T08:45"), at("01T09:30")),  # starts before the day's range
        (at("01T11:30"), at("01T12:15")),  # ends after it
        (at("01T11:00"), at("02T10:00")),  # runs over the night
        (at("06T09:00"), at("06T10:00")),  # Saturday
        (at("01T10:00"), at("01T10:00")),  # empty
        (at("01T10:00"), at("01T09:00")),  # backwards
        (at("01T09:00"),),
        [at("01T09:00"), "10:00"],
        "09:00-10:00",
    ]

    assert refusals(lambda: cells_from_ranges(g, ranges)) == [
        ("ranges[1]", "outside_grid"),
        ("ranges[2]", "outside_grid"),
        ("ranges[3]", "outside_grid"),
        ("ranges[4]", "outside_grid"),
        ("ranges[5]", "empty_range"),
        ("ranges[6]", "empty_range"),
        ("ranges[7]", "not_a_range"),
        ("ranges[8]", "not_a_range"),
        ("ranges[9]", "not_a_range"),
    ]


def test_an_outside_range_says_where_its_day_ends():
    g = grid()
    with pytest.raises(SlotsError) as refused:
        cells_from_ranges(g, [(at("01T11:30"), at("01T12:15")), (at("01T08:00"), at("01T09:30"))])

    late, early = (p.message for p in refused.value.problems)
    assert late == (
        "ranges[0] 2026-06-01T09:30:00.000Z..2026-06-01T10:15:00.000Z runs past "
        "2026-06-01T10:00:00.000Z, where its day ends in the grid"
    )
    assert early.endswith("starts outside the grid (in no poll day's range)")


def test_a_range_inside_the_hole_of_a_repeated_hour_covers_no_cell():
    g = one_day(date(2026, 10, 25), time(0), time(4), 30, B)
    hole = (ms("2026-10-25T01:05Z"), ms("2026-10-25T01:55Z"))  # the second pass of 02:00-03:00
    across = (ms("2026-10-25T00:45Z"), ms("2026-10-25T02:10Z"))

    assert refusals(lambda: cells_from_ranges(g, [hole])) == [("ranges[0]", "covers_no_cell")]
    assert cells_from_ranges(g, [across]) == (
        ms("2026-10-25T02:30", B), ms("2026-10-25T03:00", B),
    )  # fmt: skip


def test_a_range_over_the_spring_gap_covers_the_cells_on_both_sides():
    g = one_day(date(2026, 3, 8), time(1), time(4), 30, "America/New_York")

    assert cells_from_ranges(g, [(ms("2026-03-08T06:45Z"), ms("2026-03-08T07:15Z"))]) == (
        ms("2026-03-08T01:30", "America/New_York"), ms("2026-03-08T03:00", "America/New_York"),
    )  # fmt: skip


def test_a_range_may_run_over_midnight_when_the_days_touch():
    g = grid(start_time=time(0), end_time=time(0), time_slot_minutes=60, available_days=[0, 1])

    cells = cells_from_ranges(g, [(at("01T23:30"), at("02T00:30"))])
    assert cells == (at("01T23:00"), at("02T00:00"))
    assert refusals(lambda: cells_from_ranges(g, [(at("02T23:00"), at("03T01:00"))])) == [
        ("ranges[0]", "outside_grid")
    ]


def test_a_shrunk_grid_keeps_the_cells_it_still_has_and_counts_the_rest():
    old = grid()
    painted = [at("01T09:00"), at("01T11:30"), at("03T10:00"), at("05T09:30"), at("05T09:30")]
    assert cells_from_starts(old, painted)

    fewer_days = build_grid(poll(available_days=[0, 2]))
    assert keep_cells(fewer_days, painted) == Kept(
        (at("01T09:00"), at("01T11:30"), at("03T10:00")), 1
    )
    shorter = build_grid(poll(end_time=time(11)))
    assert keep_cells(shorter, painted) == Kept((at("01T09:00"), at("03T10:00"), at("05T09:30")), 1)
    coarser = build_grid(poll(time_slot_minutes=60))
    assert keep_cells(coarser, painted) == Kept((at("01T09:00"), at("03T10:00")), 2)
    # London's 09:00 is Berlin's 10:00: the cells whose instant London still has stay.
    elsewhere = build_grid(poll(timezone="Europe/London"))
    assert keep_cells(elsewhere, painted) == Kept((at("01T11:30"), at("03T10:00")), 2)
    assert keep_cells(old, painted) == Kept(tuple(sorted(set(painted))), 0)
