"""Counting: who marked each cell, first tier and "if need be" apart, each person once."""

from __future__ import annotations

from datetime import time

from server.slots import CellCount, Marks, cells_from_ranges, count_cells, marks
from tests.slots.helpers import grid, ms


def test_each_cell_lists_who_marked_it_by_tier_in_the_participants_order():
    g = grid(end_time=time(10), available_days=[0], timezone="UTC")
    nine, half = ms("2026-06-01T09:00Z"), ms("2026-06-01T09:30Z")
    people = {
        "zoe": marks(g, [half], [nine]),
        "al": marks(g, [nine, half]),
        "bo": Marks(),
        "cy": marks(g, [], [nine, half]),
    }

    assert count_cells(g, people) == (
        CellCount(nine, half, ("al",), ("zoe", "cy")),
        CellCount(half, ms("2026-06-01T10:00Z"), ("zoe", "al"), ("cy",)),
    )


def test_a_cell_marked_in_both_tiers_counts_as_available_only():
    g = grid(timezone="UTC")
    nine = ms("2026-06-01T09:00Z")

    both = marks(g, [nine], [nine, nine])
    assert both == Marks(1, 0)
    assert count_cells(g, {"a": Marks(1, 1)})[0] == CellCount(nine, nine + 1_800_000, ("a",), ())


def test_overlapping_input_counts_a_person_once_per_cell():
    g = grid(timezone="UTC")
    twice = [(ms("2026-06-01T09:00Z"), ms("2026-06-01T10:00Z"))] * 2
    overlapping = [(ms("2026-06-01T09:10Z"), ms("2026-06-01T09:50Z"))]
    cells = cells_from_ranges(g, twice + overlapping)

    counts = count_cells(g, {"a": marks(g, cells + cells)})
    assert [c.available for c in counts[:3]] == [("a",), ("a",), ()]


def test_marks_ignore_instants_that_start_no_cell():
    g = grid(timezone="UTC")

    assert marks(g, [ms("2026-06-01T09:00Z"), ms("2026-06-01T09:10Z"), 0]) == Marks(1, 0)
    assert count_cells(g, {}) == tuple(CellCount(c.start, c.end, (), ()) for c in g.cells)
