"""Best windows on crafted grids: ranking and its ties, required people, tiers, DST and days."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from server.slots import Grid, Marks, SlotsError, Window, best_windows, marks
from tests.slots.helpers import grid, ms, one_day, utc

MINUTE = 60_000


def row(g: Grid, pattern: str, first: int = 0) -> Marks:
    """Return marks from a pattern over cells ``first``..: x available, ? if need be, . neither."""
    cells = g.cells[first : first + len(pattern)]
    return marks(
        g,
        [cell.start for cell, mark in zip(cells, pattern, strict=True) if mark == "x"],
        [cell.start for cell, mark in zip(cells, pattern, strict=True) if mark == "?"],
    )


def day_of(cells: int) -> Grid:
    """Return a one-day UTC grid of ``cells`` 30-minute cells from 09:00."""
    end = time(9 + cells // 2, 30 * (cells % 2))
    return one_day(date(2026, 6, 1), time(9), end, 30, "UTC")


def starts(windows: tuple[Window, ...]) -> list[str]:
    return [utc(w.start)[-5:] for w in windows]


def people(g: Grid, **patterns: str) -> dict[str, Marks]:
    return {name: row(g, pattern) for name, pattern in patterns.items()}


def test_windows_rank_by_most_people_then_earliest_without_overlap():
    g = day_of(8)
    who = people(g, a="xxxx....", b="..xxxx..", c="..xxxxxx")

    found = best_windows(g, who, 60)

    assert starts(found) == ["10:00", "11:00", "09:00", "12:00"]
    assert found[0] == Window(
        ms("2026-06-01T10:00Z"), ms("2026-06-01T11:00Z"), ("a", "b", "c"), (), ()
    )
    assert found[1].available == ("b", "c")
    assert found[1].missing == ("a",)
    assert [w.end - w.start for w in found] == [60 * MINUTE] * 4


def test_fewer_if_need_be_ranks_before_an_earlier_window():
    g = day_of(4)
    who = people(g, a="??xx", b="xxxx")

    found = best_windows(g, who, 60)

    assert starts(found) == ["10:00", "09:00"]
    assert found[1] == Window(ms("2026-06-01T09:00Z"), ms("2026-06-01T10:00Z"), ("b",), (), ("a",))


def test_one_if_need_be_cell_makes_the_person_if_need_be_for_the_window():
    g = day_of(4)
    who = people(g, a="x?xx", b="xxxx")

    found = best_windows(g, who, 120)

    assert found == (Window(ms("2026-06-01T09:00Z"), ms("2026-06-01T11:00Z"), ("b",), (), ("a",)),)


def test_tier_available_counts_first_tier_cells_only():
    g = day_of(4)
    who = people(g, a="??xx", b="xxxx")

    found = best_windows(g, who, 60, tier="available")

    assert starts(found) == ["10:00", "09:00"]
    assert found[1] == Window(ms("2026-06-01T09:00Z"), ms("2026-06-01T10:00Z"), ("b",), ("a",), ())
    assert best_windows(g, who, 60, tier="available", min_people=2) == found[:1]
    assert len(best_windows(g, who, 60, tier="if_need_be", min_people=2)) == 2


def test_a_required_person_must_be_free_and_counts_toward_min_people():
    g = day_of(4)
    who = people(g, a="xx..", b="xxxx", c="..xx", d="..xx")

    assert starts(best_windows(g, who, 60)) == ["10:00", "09:00"]
    assert starts(best_windows(g, who, 60, required=["a"])) == ["09:00"]
    assert starts(best_windows(g, who, 60, required=["a"], min_people=2)) == ["09:00"]
    assert best_windows(g, who, 60, required=["a"], min_people=3) == ()
    assert best_windows(g, who, 60, required=["a", "c"]) == ()
    assert starts(best_windows(g, who, 60, required=["c", "c", "d"])) == ["10:00"]


def test_min_people_filters_and_more_than_everyone_finds_nothing():
    g = day_of(8)
    who = people(g, a="xxxx....", b="..xxxx..", c="..xxxxxx")

    assert starts(best_windows(g, who, 60, min_people=2)) == ["10:00", "11:00"]
    assert starts(best_windows(g, who, 60, min_people=3)) == ["10:00"]
    assert best_windows(g, who, 60, min_people=4) == ()
    assert best_windows(g, {}, 60) == ()


def test_equal_windows_come_earliest_first_and_the_limit_cuts_the_list():
    g = day_of(8)
    who = people(g, a="xxxxxxxx")

    assert starts(best_windows(g, who, 60)) == ["09:00", "10:00", "11:00", "12:00"]
    assert starts(best_windows(g, who, 60, limit=2)) == ["09:00", "10:00"]


def test_a_window_overlapping_a_better_one_is_left_out_even_when_it_ranks_second():
    g = day_of(6)
    who = people(g, a=".xxx..", b=".xxx..", c="..xxxx")

    found = best_windows(g, who, 60)

    # 10:00-11:00 (a, b, c) is best; 09:30 (a, b) would rank second but shares a cell
    # with it; a window nobody can attend is never listed.
    assert starts(found) == ["10:00", "11:00"]
    assert found[1].available == ("c",)
    assert found[1].missing == ("a", "b")


def test_a_duration_between_multiples_of_the_slot_is_rounded_up_to_whole_cells():
    g = day_of(4)
    who = people(g, a="xxxx")

    assert [w.end - w.start for w in best_windows(g, who, 50)] == [60 * MINUTE] * 2
    assert [w.end - w.start for w in best_windows(g, who, 30)] == [30 * MINUTE] * 4
    assert [w.end - w.start for w in best_windows(g, who, 31)] == [60 * MINUTE] * 2
    assert best_windows(g, who, 121) == ()


def test_a_window_crosses_the_spring_gap_in_real_time():
    zone = "America/New_York"
    g = one_day(date(2026, 3, 8), time(1), time(4), 30, zone)  # 01:00 01:30 | 03:00 03:30
    who = people(g, a="xxxx")

    found = best_windows(g, who, 120)

    assert found == (
        Window(ms("2026-03-08T01:00", zone), ms("2026-03-08T04:00", zone), ("a",), (), ()),
    )
    assert found[0].end - found[0].start == 120 * MINUTE


def test_no_window_spans_the_hole_a_repeated_hour_leaves():
    zone = "Europe/Berlin"
    g = one_day(date(2026, 10, 25), time(0), time(4), 30, zone)  # ... 02:00 02:30 | 03:00 03:30
    who = {"a": row(g, "xx", first=5)}  # 02:30 (summer time) and 03:00 (winter time)

    assert best_windows(g, who, 60) == ()
    assert starts(best_windows(g, who, 30)) == ["00:30", "02:00"]


def test_windows_stay_within_a_day_unless_the_days_touch_at_midnight():
    evenings = grid(start_time=time(20), end_time=time(0), time_slot_minutes=60, timezone="UTC")
    mornings = grid(start_time=time(0), end_time=time(2), time_slot_minutes=60, timezone="UTC")
    whole = grid(start_time=time(0), end_time=time(0), time_slot_minutes=60, timezone="UTC")
    monday_night = [ms("2026-06-01T23:00Z"), ms("2026-06-02T00:00Z")]

    for split in (evenings, mornings):
        assert best_windows(split, {"a": marks(split, monday_night)}, 120) == ()
    across = best_windows(whole, {"a": marks(whole, monday_night)}, 120)
    assert [(utc(w.start), utc(w.end)) for w in across] == [
        ("2026-06-01 23:00", "2026-06-02 01:00")
    ]


def test_windows_over_many_days_are_ranked_across_days():
    g = grid(end_time=time(10), timezone="UTC")  # Mon-Fri, 09:00 and 09:30
    wednesday = [ms("2026-06-03T09:00Z"), ms("2026-06-03T09:30Z")]
    who = {"a": marks(g, g.starts), "b": marks(g, wednesday), "c": marks(g, [], wednesday)}

    found = best_windows(g, who, 60)

    assert [utc(w.start) for w in found][:2] == ["2026-06-03 09:00", "2026-06-01 09:00"]
    assert found[0].available == ("a", "b")
    assert found[0].if_need_be == ("c",)
    assert found[1].missing == ("b", "c")
    assert len(found) == 5


BAD_QUERIES: list[tuple[dict[str, Any], str, str]] = [
    ({"duration_minutes": 0}, "duration_minutes", "out_of_range"),
    ({"duration_minutes": -30}, "duration_minutes", "out_of_range"),
    ({"duration_minutes": 10**9}, "duration_minutes", "out_of_range"),
    ({"duration_minutes": "90"}, "duration_minutes", "out_of_range"),
    ({"min_people": 0}, "min_people", "out_of_range"),
    ({"min_people": 2.5}, "min_people", "out_of_range"),
    ({"limit": 0}, "limit", "out_of_range"),
    ({"limit": 101}, "limit", "out_of_range"),
    ({"tier": "maybe"}, "tier", "unknown_tier"),
    ({"tier": ["available"]}, "tier", "unknown_tier"),
    ({"required": "a"}, "required", "not_a_list"),
    ({"required": ["a", "zed"]}, "required[1]", "unknown_participant"),
    ({"required": [7]}, "required[0]", "unknown_participant"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_QUERIES)
def test_a_bad_query_is_refused_naming_the_field(change, field, reason):
    g = day_of(4)
    query: dict[str, Any] = {"duration_minutes": 60, **change}
    duration = query.pop("duration_minutes")

    with pytest.raises(SlotsError) as refused:
        best_windows(g, people(g, a="xxxx"), duration, **query)

    assert [(p.field, p.reason) for p in refused.value.problems] == [(field, reason)]


def test_every_bad_query_field_is_named_at_once():
    g = day_of(4)
    with pytest.raises(SlotsError) as refused:
        best_windows(g, {}, 0, min_people=0, required=["x"], tier="?", limit=0)

    assert [p.field for p in refused.value.problems] == [
        "duration_minutes", "min_people", "limit", "tier", "required[0]",
    ]  # fmt: skip
