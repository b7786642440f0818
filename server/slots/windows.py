"""Best windows: runs of consecutive cells where enough people, and the required ones, are free."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from server.slots.bits import Counts, positions, runs
from server.slots.errors import Problem, is_int, refuse
from server.slots.grid import Grid
from server.slots.tally import Marks

TIERS = ("available", "if_need_be")
DEFAULT_WINDOWS, MAX_WINDOWS = 20, 100
MAX_DURATION_MINUTES = 366 * 24 * 60
MAX_MIN_PEOPLE = 1_000_000


class Window(NamedTuple):
    """A window and everyone's part in it; the three lists split the participants."""

    start: int
    end: int
    available: tuple[str, ...]
    missing: tuple[str, ...]
    if_need_be: tuple[str, ...]


class _Free(NamedTuple):
    """Per participant, bitmasks over window starts: free on the first tier alone, and counted."""

    whole: list[int]
    counted: list[int]


def best_windows(
    grid: Grid,
    people: Mapping[str, Marks],
    duration_minutes: int,
    *,
    min_people: int = 1,
    required: Sequence[str] = (),
    tier: str = "if_need_be",
    limit: int = DEFAULT_WINDOWS,
) -> tuple[Window, ...]:
    """Return the best non-overlapping windows, best first; raise SlotsError on a bad query."""
    refuse(_query_problems(people, duration_minutes, min_people, required, tier, limit))
    size = -(-duration_minutes // grid.definition.time_slot_minutes)
    ids = list(people)
    free = _free(grid, list(people.values()), size, tier)
    counts = Counts()
    for mask in free.counted:
        counts.add(mask)
    eligible = counts.at_least(min_people, grid.window_starts(size))
    for person in set(required):
        eligible &= free.counted[ids.index(person)]
    ranked = _ranked(free, counts, eligible, len(grid))
    return tuple(_window(grid, i, size, ids, free) for i in _apart(ranked, size, limit, len(grid)))


def _free(grid: Grid, marks: list[Marks], size: int, tier: str) -> _Free:
    starts = grid.window_starts(size)
    whole = [runs(mark.available, size) & starts for mark in marks]
    if tier == "available":
        return _Free(whole, whole)
    counted = [
        runs(mark.available | mark.if_need_be, size) & starts if mark.if_need_be else first
        for mark, first in zip(marks, whole, strict=True)
    ]
    return _Free(whole, counted)


def _ranked(free: _Free, people: Counts, eligible: int, cells: int) -> list[int]:
    """Return the eligible starts by most people, then fewest "if need be", then earliest."""
    if not eligible:
        return []
    second = Counts()
    for whole, counted in zip(free.whole, free.counted, strict=True):
        if counted != whole:
            second.add(counted & ~whole & eligible)
    totals, extras = people.values(cells), second.values(cells)
    return sorted(positions(eligible, cells), key=lambda i: (-totals[i], extras[i], i))


def _apart(ranked: list[int], size: int, limit: int, cells: int) -> list[int]:
    """Take windows in rank order, skipping any that shares a cell with one already taken."""
    taken, chosen = bytearray(cells), []
    for i in ranked:
        if taken.find(1, i, i + size) == -1:
            chosen.append(i)
            taken[i : i + size] = b"\x01" * size
            if len(chosen) == limit:
                break
    return chosen


def _window(grid: Grid, i: int, size: int, ids: list[str], free: _Free) -> Window:
    available, missing, second = [], [], []
    for person, whole, counted in zip(ids, free.whole, free.counted, strict=True):
        if whole >> i & 1:
            available.append(person)
        elif counted >> i & 1:
            second.append(person)
        else:
            missing.append(person)
    end = grid.ends[i + size - 1]
    return Window(grid.starts[i], end, tuple(available), tuple(missing), tuple(second))


def _query_problems(
    people: Mapping[str, Marks],
    duration: object,
    min_people: object,
    required: object,
    tier: object,
    limit: object,
) -> list[Problem]:
    problems = [
        _bounded("duration_minutes", duration, 1, MAX_DURATION_MINUTES),
        _bounded("min_people", min_people, 1, MAX_MIN_PEOPLE),
        _bounded("limit", limit, 1, MAX_WINDOWS),
    ]
    if tier not in TIERS:
        problems.append(Problem("tier", "unknown_tier", f"tier is {tier!r}; one of {TIERS}"))
    return [p for p in problems if p] + _required_problems(people, required)


def _bounded(field: str, value: object, low: int, high: int) -> Problem | None:
    if is_int(value) and low <= value <= high:
        return None
    return Problem(field, "out_of_range", f"{field} is {value!r}; it must be {low} to {high}")


def _required_problems(people: Mapping[str, Marks], required: object) -> list[Problem]:
    if isinstance(required, str | bytes) or not isinstance(required, Sequence):
        return [Problem("required", "not_a_list", "required must be a list of participant ids")]
    return [
        Problem(
            f"required[{pos}]",
            "unknown_participant",
            f"required[{pos}] {person!r} is no participant",
        )
        for pos, person in enumerate(required)
        if not isinstance(person, str) or person not in people
    ]
