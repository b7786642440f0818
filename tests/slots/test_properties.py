"""Properties against brute force on small grids: cells, ranges, merging, counts, windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from server.slots import (
    CellCount,
    Grid,
    Kept,
    PollDefinition,
    SlotsError,
    Window,
    best_windows,
    build_grid,
    cells_from_ranges,
    cells_from_starts,
    count_cells,
    keep_cells,
    marks,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
# 2026's DST changes in those zones (Lord Howe shifts by 30 minutes), and a quiet day.
CHANGES = [
    date(2026, m, d) for m, d in ((3, 8), (3, 29), (4, 5), (6, 1), (10, 4), (10, 25), (11, 1))
]
SLOTS = [5, 15, 30, 45, 60, 90, 120, 240]
HOUR = 3_600_000
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    """Draw a small grid: up to four days, up to eight cells a day, near DST changes."""
    first = draw(st.sampled_from(CHANGES)) - timedelta(days=draw(st.integers(0, 2)))
    slot = draw(st.sampled_from(SLOTS))
    night = st.integers(0, 12)  # from 00:00 to 03:00, where the changes are
    start = draw(st.one_of(night, st.integers(0, (24 * 60 - slot) // 15))) * 15
    count = draw(st.integers(1, min(8, (24 * 60 - start) // slot)))
    end = start + count * slot
    definition = PollDefinition(
        first, first + timedelta(days=draw(st.integers(0, 3))),
        sorted(draw(st.sets(st.integers(0, 6), min_size=1))), time(start // 60, start % 60),
        time(end // 60 % 24, end % 60), slot, draw(st.sampled_from(ZONES)),
    )  # fmt: skip
    try:
        return build_grid(definition)
    except SlotsError:
        assume(False)
        raise


def exists(day: date, wall: time, zone: ZoneInfo) -> int | None:
    """Return the instant of a wall time (its first pass), None when the zone skips it."""
    local = datetime.combine(day, wall, zone)
    back = local.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return int(local.timestamp() * 1000)


@FAST
@given(grids())
def test_the_grid_is_every_existing_wall_time_of_every_available_day_once(g: Grid):
    poll, zone = g.definition, ZoneInfo(g.definition.timezone)
    first = poll.start_time.hour * 60 + poll.start_time.minute
    last = poll.end_time.hour * 60 + poll.end_time.minute or 24 * 60
    walls = [time(m // 60, m % 60) for m in range(first, last, poll.time_slot_minutes)]
    expected = [
        (start, day, wall)
        for n in range((poll.end_date - poll.start_date).days + 1)
        if (day := poll.start_date + timedelta(days=n)).weekday() in poll.available_days
        for wall in walls
        if (start := exists(day, wall, zone)) is not None
    ]
    assert [(c.start, c.day, c.wall) for c in g.cells] == expected
    slot = poll.time_slot_minutes * 60_000
    assert [c.end for c in g.cells] == [
        min(a.start + slot, b.start) for a, b in pairwise(g.cells)
    ] + [g.cells[-1].start + slot]
    assert all(c.start < c.end for c in g.cells)


def spans(g: Grid) -> list[tuple[int, int]]:
    """Return the grid's day ranges, days that touch joined: the brute-force way."""
    days: dict[date, list[int]] = {}
    for cell in g.cells:
        days.setdefault(cell.day, []).extend((cell.start, cell.end))
    joined: list[tuple[int, int]] = []
    for bounds in days.values():
        low, high = min(bounds), max(bounds)
        if joined and joined[-1][1] == low:
            joined[-1] = (joined[-1][0], high)
        else:
            joined.append((low, high))
    return joined


@st.composite
def grids_and_ranges(draw: st.DrawFn) -> tuple[Grid, list[tuple[int, int]]]:
    """Draw a grid and ranges near it, on minutes and on cell edges."""
    g = draw(grids())
    edges = [c.start for c in g.cells] + [c.end for c in g.cells]
    minutes = st.integers((g.starts[0] - 2 * HOUR) // 60_000, (g.ends[-1] + 2 * HOUR) // 60_000)
    point = st.one_of(st.sampled_from(edges), minutes.map(lambda m: m * 60_000))
    return g, draw(st.lists(st.tuples(point, point), max_size=6))


@FAST
@given(grids_and_ranges())
def test_a_range_covers_exactly_the_cells_it_overlaps_and_outside_ones_are_named(case):
    g, ranges = case
    days = spans(g)
    bad = [
        f"ranges[{n}]"
        for n, (start, end) in enumerate(ranges)
        if end <= start
        or not any(low <= start and end <= high for low, high in days)
        or not any(c.start < end and c.end > start for c in g.cells)
    ]
    if bad:
        with pytest.raises(SlotsError) as refused:
            cells_from_ranges(g, ranges)
        assert [p.field for p in refused.value.problems] == bad
        return
    expected = sorted({c.start for s, e in ranges for c in g.cells if c.start < e and c.end > s})
    assert cells_from_ranges(g, ranges) == tuple(expected)


@FAST
@given(grids_and_ranges())
def test_merging_input_is_idempotent(case):
    g, drawn = case
    ranges = [r for r in drawn if accepted(g, r)]
    cells = cells_from_ranges(g, ranges)
    assert cells_from_ranges(g, ranges + ranges[::-1]) == cells
    assert cells_from_starts(g, list(cells) * 2) == cells
    assert (
        cells_from_ranges(g, [(g.ends[g.index_of(s)] - 1, g.ends[g.index_of(s)]) for s in cells])
        == cells
    )
    assert keep_cells(g, cells) == Kept(cells, 0)


def accepted(g: Grid, item: tuple[int, int]) -> bool:
    """Return whether the grid takes the range alone."""
    try:
        cells_from_ranges(g, [item])
    except SlotsError:
        return False
    return True


@st.composite
def polls(draw: st.DrawFn) -> tuple[Grid, dict[str, tuple[set[int], set[int]]]]:
    """Draw a grid and up to six participants' cells in two tiers (b: a cell in both)."""
    g = draw(grids())
    names = draw(st.lists(st.sampled_from("abcdef"), unique=True, max_size=6))
    rows = {
        name: draw(st.lists(st.sampled_from("xx?b."), min_size=len(g), max_size=len(g)))
        for name in names
    }
    return g, {
        name: (
            {c.start for c, mark in zip(g.cells, row, strict=True) if mark in "xb"},
            {c.start for c, mark in zip(g.cells, row, strict=True) if mark in "?b"},
        )
        for name, row in rows.items()
    }


@FAST
@given(polls())
def test_counts_list_each_person_once_per_cell_by_tier(case):
    g, cells = case
    people = {name: marks(g, first, second) for name, (first, second) in cells.items()}

    assert count_cells(g, people) == tuple(
        CellCount(
            c.start, c.end,
            tuple(n for n, (first, _) in cells.items() if c.start in first),
            tuple(n for n, (first, second) in cells.items() if c.start in second - first),
        )
        for c in g.cells
    )  # fmt: skip


def brute_windows(g, cells, duration, min_people, required, tier, limit):
    """Return the windows by the definition: every start, ranked, taken greedily apart."""
    size = -(-duration // g.definition.time_slot_minutes)
    found = []
    for i in range(len(g) - size + 1):
        run = g.cells[i : i + size]
        if any(a.end != b.start for a, b in pairwise(run)):
            continue
        starts = {c.start for c in run}
        whole = [n for n, (first, _) in cells.items() if starts <= first]
        counted = [
            n for n, (first, second) in cells.items()
            if starts <= first or (tier == "if_need_be" and starts <= first | second)
        ]  # fmt: skip
        if len(counted) >= min_people and set(required) <= set(counted):
            second = tuple(n for n in counted if n not in whole)
            missing = tuple(n for n in cells if n not in counted)
            found.append((i, Window(run[0].start, run[-1].end, tuple(whole), missing, second)))
    found.sort(
        key=lambda f: (-(len(f[1].available) + len(f[1].if_need_be)), len(f[1].if_need_be), f[0])
    )
    taken: set[int] = set()
    chosen = []
    for i, window in found:
        if taken.isdisjoint(range(i, i + size)) and len(chosen) < limit:
            chosen.append(window)
            taken.update(range(i, i + size))
    return tuple(chosen)


@FAST
@given(polls(), st.data())
def test_best_windows_match_brute_force(case, data):
    g, cells = case
    slot = g.definition.time_slot_minutes
    duration = data.draw(st.integers(1, slot * 5))
    min_people = data.draw(st.integers(1, 4))
    required = data.draw(st.lists(st.sampled_from(sorted(cells)), max_size=2)) if cells else []
    tier = data.draw(st.sampled_from(["available", "if_need_be"]))
    limit = data.draw(st.integers(1, 6))
    people = {name: marks(g, first, second) for name, (first, second) in cells.items()}

    found = best_windows(
        g, people, duration, min_people=min_people, required=required, tier=tier, limit=limit
    )

    assert found == brute_windows(g, cells, duration, min_people, required, tier, limit)
    for window in found:  # the constraints, stated once more on the answer itself
        assert len(window.available) + len(window.if_need_be) >= min_people
        assert set(required) <= set(window.available) | set(window.if_need_be)
        assert sorted(window.available + window.missing + window.if_need_be) == sorted(cells)
