"""A window's schedules and occurrences, generated lazily in start order.

The window is cut into slices of a month. For each slice, every series' engine
(which seeks to the slice instead of iterating from DTSTART) gives its
occurrences, and the slice's items are sorted together: the first items of a
year window come after a month's work, not a year's, and a year window streams
holding one month of items, not its 178,000. Overrides replace or cancel
occurrences; an occurrence moved into the window from outside it is found by
its new time and, like a schedule that does not recur, put in the slice of its
start.

Per item the cost is that of the engine and one sort, all in C: series are
taken in id order and each gives its occurrences in order, so a stable sort by
start alone gives the (start, id) order. A slice holds plain keys (ints and the
series id), which the garbage collector stops tracking at its first pass, so a
month of them does not make it scan the whole heap; an item's tuple is built
only when it is yielded. The engine's answers for a window of one slice (the
week or month a calendar shows, read again and again) are kept, by the series'
timing and the bounds, which is all they depend on.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from server.domain.schedules.recurrence import Series, occurrences, parse_instance_id
from server.domain.schedules.series import TIMING, series_of

Row = Mapping[Any, Any]
SLICE_MS = 31 * 86_400_000
SINGLE = -1  # the ``original`` of a schedule that does not recur


# One entry of a window: (start, series id, original start, series row, override).
# A plain tuple, ordered by its first three fields, which is the order of (start,
# id): occurrence ids are the series id (fixed width) followed by the fixed-width
# original start. No two items share those three fields.
Item = tuple[int, str, int, Row, Row | None]
Overrides = Mapping[tuple[str, int], Row]
# An item in a slice: (start, series id, original start, index of the series row).
Key = tuple[int, str, int, int]
# A recurring series: its index in the rows, row, and whether it has overrides.
Recurring = tuple[int, Row, bool]
# A row's values of TIMING: what its occurrences depend on.
Timing = tuple[int, int, str, str, int | None]

_start = itemgetter(0)


def window_items(
    rows: Sequence[Row],
    overrides: Iterable[Row],
    start: int,
    end: int,
    after: tuple[int, str] | None = None,
) -> Iterator[Item]:
    """Yield what overlaps [start, end) in (start, id) order, after the keyset ``after``."""
    by_key = {(o["series_id"], o["original_start"]): o for o in overrides}
    edited = {series_id for series_id, _ in by_key}
    rows = sorted(rows, key=itemgetter("id"))
    recurring = [
        (index, row, row["id"] in edited)
        for index, row in enumerate(rows)
        if row["recurrence_rule"] is not None
    ]
    from_ = start if after is None else max(start, after[0])
    position = None if after is None else (after[0], *_id_key(after[1]))
    points = _points(rows, by_key, start, end)
    for keys in _slices(recurring, by_key, points, from_, end):
        skip = 0 if position is None else bisect.bisect_right(keys, position, key=_key)
        for at, series_id, original, index in islice(keys, skip, None):
            override = by_key.get((series_id, original)) if series_id in edited else None
            yield (at, series_id, original, rows[index], override)


def _slices(
    recurring: Sequence[Recurring], overrides: Overrides, points: list[Key], from_: int, end: int
) -> Iterator[list[Key]]:
    """Yield the keys of [from_, end) a slice at a time, each slice's in order."""
    # A window of one slice (a week's, a month's view) keeps the engine's answers.
    keep = end - from_ <= SLICE_MS
    taken = 0
    lo = from_
    while lo < end:
        hi = min(lo + SLICE_MS, end)
        keys = _slice_keys(recurring, overrides, lo, hi, lo == from_, keep)
        # Singles and moved occurrences go to the slice of their start (the first
        # slice takes those before it, the last those after it).
        upto = len(points) if hi == end else bisect.bisect_left(points, hi, key=_start)
        for point in points[taken:upto]:
            bisect.insort(keys, point)
        taken = upto
        yield keys
        lo = hi


def _occurrences(row: Row, lo: int, hi: int, keep: bool) -> Sequence[int]:
    """Return the original starts of the row's occurrences overlapping [lo, hi), ascending.

    With ``keep``, the answer is kept by timing and bounds (it depends on nothing
    else): a calendar reads the same weeks again and again.
    """
    start, end, zone = row["start_at"], row["end_at"], row["timezone"]
    timing = (start, end, zone, row["recurrence_rule"], row["recurrence_end"])
    if keep:
        return _kept(timing, lo, hi)
    return list(occurrences(_series(timing), lo, hi))


@functools.lru_cache(maxsize=4096)
def _kept(timing: Timing, lo: int, hi: int) -> tuple[int, ...]:
    return tuple(occurrences(_series(timing), lo, hi))


@functools.lru_cache(maxsize=8192)
def _series(timing: Timing) -> Series:
    return series_of(dict(zip(TIMING, timing, strict=True)))


def _key(key: Key) -> tuple[int, str, int]:
    return key[:3]


def _id_key(ident: str) -> tuple[str, int]:
    parsed = parse_instance_id(ident)
    return (ident, SINGLE) if parsed is None else parsed


def _slice_keys(
    recurring: Sequence[Recurring], overrides: Overrides, lo: int, hi: int, first: bool, keep: bool
) -> list[Key]:
    """Return the keys of the occurrences overlapping [lo, hi) in (start, id) order.

    Those starting before ``lo`` are the previous slice's, except in the first slice.
    """
    keys: list[Key] = []
    for index, row, edited in recurring:
        series_id = row["id"]
        originals = _occurrences(row, lo, hi, keep)
        if edited:
            keys += _edited_keys(index, row, overrides, originals, lo, first)
        else:
            keys += [(o, series_id, o, index) for o in originals if first or o >= lo]
    keys.sort(key=_start)  # stable: equal starts keep the series' id order
    return keys


def _edited_keys(
    index: int, row: Row, overrides: Overrides, originals: Iterable[int], lo: int, first: bool
) -> list[Key]:
    """Return the keys of a series with overrides: cancelled and moved occurrences left out."""
    series_id = row["id"]
    duration = row["end_at"] - row["start_at"]
    keys = []
    for original in originals:
        if original < lo and not first:
            continue
        override = overrides.get((series_id, original))
        if override is None or not (override["cancelled"] or _moved(override, duration)):
            keys.append((original, series_id, original, index))
    return keys


def _points(rows: Sequence[Row], overrides: Overrides, start: int, end: int) -> list[Key]:
    """Return the keys of the schedules that do not recur and of the moved occurrences
    overlapping the window (the latter found by their new time), in order."""
    points: list[Key] = [
        (row["start_at"], row["id"], SINGLE, index)
        for index, row in enumerate(rows)
        if row["recurrence_rule"] is None and row["start_at"] < end and row["end_at"] > start
    ]
    indexes = {row["id"]: index for index, row in enumerate(rows)}
    for (series_id, original), override in overrides.items():
        index = indexes.get(series_id)
        if index is None or override["cancelled"]:
            continue
        row = rows[index]
        if not _moved(override, row["end_at"] - row["start_at"]):
            continue
        if override["start_at"] < end and override["end_at"] > start:
            points.append((override["start_at"], series_id, original, index))
    points.sort()
    return points


def _moved(override: Row, duration: int) -> bool:
    """Say whether an override gives its occurrence other times than the series does."""
    original = override["original_start"]
    return bool(override["start_at"] != original or override["end_at"] != original + duration)
