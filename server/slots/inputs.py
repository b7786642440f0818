"""Participants' input: cell starts or ranges checked against the grid, and what a shrink keeps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import compress
from typing import NamedTuple
from zoneinfo import ZoneInfo

from server.slots.definition import WEEKDAYS
from server.slots.errors import Problem, SlotsError, in_range, is_int, iso, refuse
from server.slots.grid import DAY_MS, MINUTE_MS, Grid

# Items per call, cells or ranges alike (a 14-day poll of 15-minute cells from
# 08:00 to 20:00 has 672 cells; larger grids are painted with ranges).
MAX_INPUT = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Kept(NamedTuple):
    """What survives a change of grid: the cells still in it, and how many were dropped."""

    cells: tuple[int, ...]
    dropped: int


def cells_from_starts(grid: Grid, starts: Sequence[int]) -> tuple[int, ...]:
    """Return the cells ``starts`` name, sorted, each once; refuse every instant starting none."""
    _refuse_unbounded(starts, "cells")
    found = (_start_problem(grid, f"cells[{pos}]", start) for pos, start in enumerate(starts))
    refuse([problem for problem in found if problem])
    return tuple(sorted(set(starts)))


def cells_from_ranges(grid: Grid, ranges: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Return the cells the [start, end) ranges overlap, partly or wholly; refuse bad ranges."""
    _refuse_unbounded(ranges, "ranges")
    covered, problems = bytearray(len(grid)), []
    for pos, item in enumerate(ranges):
        problem = _range_problem(grid, f"ranges[{pos}]", item)
        if problem:
            problems.append(problem)
            continue
        cells = grid.covering(item[0], item[1])
        covered[cells.start : cells.stop] = b"\x01" * len(cells)
    refuse(problems)
    return tuple(compress(grid.starts, covered))


def keep_cells(grid: Grid, starts: Iterable[int]) -> Kept:
    """Return which of the cells (by UTC start) the grid still has, and how many it dropped."""
    unique = set(starts)
    kept = sorted(start for start in unique if grid.index_of(start) is not None)
    return Kept(tuple(kept), len(unique) - len(kept))


def _refuse_unbounded(items: object, field: str) -> None:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise SlotsError([Problem(field, "not_a_list", f"{field} must be a list")])
    if len(items) > MAX_INPUT:
        message = f"{field} has {len(items)} items; at most {MAX_INPUT}"
        raise SlotsError([Problem(field, "too_many", message)])


def _start_problem(grid: Grid, field: str, start: object) -> Problem | None:
    if not is_int(start):
        return Problem(field, "not_an_instant", f"{field} is {start!r}, not an instant (ms)")
    if grid.index_of(start) is not None:
        return None
    reason, why = _why_no_cell(grid, start)
    return Problem(field, reason, f"{field} {iso(start)} {why}")


def _why_no_cell(grid: Grid, ms: int) -> tuple[str, str]:
    poll = grid.definition
    dates = f"outside the poll's dates {poll.start_date}..{poll.end_date}"
    if not (in_range(ms) and grid.starts[0] - 2 * DAY_MS < ms < grid.ends[-1] + 2 * DAY_MS):
        return "outside_dates", f"is {dates}"
    local = (_EPOCH + timedelta(milliseconds=ms)).astimezone(ZoneInfo(poll.timezone))
    where = f"is {_clock(local)} on {WEEKDAYS[local.weekday()]} {local.date()} in {poll.timezone}"
    if not poll.start_date <= local.date() <= poll.end_date:
        return "outside_dates", f"{where}, {dates}"
    if local.weekday() not in poll.available_days:
        return "day_not_available", f"{where}, not one of the poll's days"
    return _why_not_in_day(grid, local, where)


def _why_not_in_day(grid: Grid, local: datetime, where: str) -> tuple[str, str]:
    poll = grid.definition
    first, last = _minute_ms(poll.start_time), _minute_ms(poll.end_time) or DAY_MS
    clock = _minute_ms(local) + local.second * 1000 + local.microsecond // 1000
    if not first <= clock < last:
        daily = f"{poll.start_time:%H:%M}-{poll.end_time:%H:%M}"
        return "outside_daily_range", f"{where}, outside the daily range {daily}"
    if (clock - first) % (poll.time_slot_minutes * MINUTE_MS):
        step = f"{poll.time_slot_minutes}-minute boundary from {poll.start_time:%H:%M}"
        return "not_on_slot_boundary", f"{where}, not on a {step}"
    if local.fold:
        why = "a DST change repeats that hour; the grid keeps its first pass"
        return "repeated_time", f"{where} for the second time ({why})"
    return "not_a_cell", f"{where} and starts no cell"


def _range_problem(grid: Grid, field: str, item: object) -> Problem | None:
    if not (isinstance(item, Sequence) and len(item) == 2 and all(map(is_int, item))):
        return Problem(field, "not_a_range", f"{field} must be a [start, end] pair of instants")
    start, end = item
    what = f"{field} {iso(start)}..{iso(end)}"
    if end <= start:
        return Problem(field, "empty_range", f"{what} does not end after it starts")
    if not grid.inside(start, end):
        span = grid.span_around(start)
        if span:
            why = f"runs past {iso(span[1])}, where its day ends in the grid"
        else:
            why = "starts outside the grid (in no poll day's range)"
        return Problem(field, "outside_grid", f"{what} {why}")
    if not grid.covering(start, end):
        return Problem(field, "covers_no_cell", f"{what} covers no cell (a DST change's hole)")
    return None


def _minute_ms(wall: time | datetime) -> int:
    return (wall.hour * 60 + wall.minute) * MINUTE_MS


def _clock(local: datetime) -> str:
    if local.second or local.microsecond:
        return local.time().isoformat(timespec="milliseconds")
    return f"{local:%H:%M}"
