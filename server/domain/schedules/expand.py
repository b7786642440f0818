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

A read that wants a page asks each series for no more starts than the page
still needs (plus the occurrences its overrides leave out): the first items of
the merged slice are then exact, and a dense series (sixty starts a minute)
costs a page, not a month. ``count_items`` counts a whole window the same way,
one engine call per series and no sort, stopping one past its cap.
"""

from __future__ import annotations

import bisect
import functools
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from operator import itemgetter
from typing import Any

from server.domain.schedules.recurrence import Series, parse_instance_id, starts
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
# A recurring series: its index in the rows, row, and the originals its overrides
# leave out of the rule's places (cancelled or moved).
Recurring = tuple[int, Row, frozenset[int]]
# A row's values of TIMING: what its occurrences depend on.
Timing = tuple[int, int, str, str, int | None]

_start = itemgetter(0)
_NO_LIMIT = sys.maxsize


def window_items(
    rows: Sequence[Row],
    overrides: Iterable[Row],
    start: int,
    end: int,
    after: tuple[int, str] | None = None,
    limit: int | None = None,
) -> Iterator[Item]:
    """Yield what overlaps [start, end) in (start, id) order, after the keyset ``after``;
    at most ``limit`` items, and the engine is asked for no more than they need."""
    by_key = {(o["series_id"], o["original_start"]): o for o in overrides}
    edited = {series_id for series_id, _ in by_key}
    rows = sorted(rows, key=itemgetter("id"))
    recurring = _recurring(rows, by_key)
    from_ = start if after is None else max(start, after[0])
    position = None if after is None else (after[0], *_id_key(after[1]))
    # Past a cursor at or after the window's start, what starts before the cursor
    # was on earlier pages: the first slice then needs only starts from it on.
    overlap = after is None or after[0] < start
    points = _points(rows, by_key, start, end)
    left = _NO_LIMIT if limit is None else limit
    for lo, hi in _spans(from_, end):
        first = lo == from_
        need = _need(None if limit is None else left, first, after is not None, overlap)
        keys = _slice_keys(recurring, lo, hi, first and overlap, end - from_, need)
        _merge(keys, points, None if first else lo, hi if hi < end else None)
        skip = 0 if position is None or not first else bisect.bisect_right(keys, position, key=_key)
        stop = None if limit is None else skip + left
        for at, series_id, original, index in islice(keys, skip, stop):
            override = by_key.get((series_id, original)) if series_id in edited else None
            yield (at, series_id, original, rows[index], override)
            left -= 1
        if left <= 0:
            return


def _need(left: int | None, first: bool, cursor: bool, overlap: bool) -> int | None:
    """Return how many starts a slice needs from each series for its first ``left`` items
    (None: all), besides the series' left-out occurrences, which take no place."""
    if left is None or not first or not cursor:
        return left
    # The first slice after a cursor skips what is not after it: from each series
    # one start at the cursor's instant, or, before the window's start (overlap),
    # any number of overlapping ones.
    return None if overlap else left + 1


def count_items(
    rows: Sequence[Row], overrides: Iterable[Row], start: int, end: int, cap: int
) -> int:
    """Count what overlaps [start, end), stopping past ``cap``: the count, or ``cap + 1``.

    One engine call per series, asked for no more starts than could still fit
    (plus its left-out occurrences), and no sorting: a window of 1.5 million
    occurrences is found too big after expanding ``cap + 1`` of them.
    """
    by_key = {(o["series_id"], o["original_start"]): o for o in overrides}
    total = len(_points(rows, by_key, start, end))
    for _, row, left_out in _recurring(rows, by_key):
        if total > cap:
            break
        need = cap + 1 - total + len(left_out)
        originals = _occurrences(row, start, end, True, end - start, need)
        total += len(originals) - len(left_out.intersection(originals))
    return min(total, cap + 1)


def _recurring(rows: Sequence[Row], overrides: Overrides) -> list[Recurring]:
    """Return the recurring rows with their index and the originals their overrides
    leave out of the rule's places (cancelled, or moved: found by their new time)."""
    left_out: dict[str, set[int]] = {}
    durations = {row["id"]: row["end_at"] - row["start_at"] for row in rows}
    for (series_id, original), override in overrides.items():
        duration = durations.get(series_id)
        if duration is not None and (override["cancelled"] or _moved(override, duration)):
            left_out.setdefault(series_id, set()).add(original)
    return [
        (index, row, frozenset(left_out.get(row["id"], ())))
        for index, row in enumerate(rows)
        if row["recurrence_rule"] is not None
    ]


def _spans(from_: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield the slices of [from_, end), a month each."""
    lo = from_
    while lo < end:
        hi = min(lo + SLICE_MS, end)
        yield lo, hi
        lo = hi


def _merge(keys: list[Key], points: list[Key], lo: int | None, hi: int | None) -> None:
    """Add to a slice's keys the points starting in it (the first slice, ``lo`` None,
    takes those before it; the last, ``hi`` None, those after it)."""
    first = 0 if lo is None else bisect.bisect_left(points, lo, key=_start)
    last = len(points) if hi is None else bisect.bisect_left(points, hi, key=_start)
    for point in points[first:last]:
        bisect.insort(keys, point)


def _occurrences(
    row: Row, lo: int, hi: int, overlap: bool, span: int, limit: int | None
) -> Sequence[int]:
    """Return the original starts in [lo, hi) (with ``overlap``, of the occurrences
    overlapping it), ascending; only the first ``limit`` when given.

    A window of one slice (``span``: the week or month a calendar shows, read
    again and again) keeps the answer by timing and bounds, all it depends on.
    """
    start, end, zone = row["start_at"], row["end_at"], row["timezone"]
    timing = (start, end, zone, row["recurrence_rule"], row["recurrence_end"])
    first = lo - (end - start) + 1 if overlap else lo
    if span <= SLICE_MS:
        return _kept(timing, first, hi, limit)
    return starts(_series(timing), first, hi, limit)


@functools.lru_cache(maxsize=4096)
def _kept(timing: Timing, lo: int, hi: int, limit: int | None) -> tuple[int, ...]:
    return tuple(starts(_series(timing), lo, hi, limit))


@functools.lru_cache(maxsize=8192)
def _series(timing: Timing) -> Series:
    return series_of(dict(zip(TIMING, timing, strict=True)))


def _key(key: Key) -> tuple[int, str, int]:
    return key[:3]


def _id_key(ident: str) -> tuple[str, int]:
    parsed = parse_instance_id(ident)
    return (ident, SINGLE) if parsed is None else parsed


def _slice_keys(
    recurring: Sequence[Recurring],
    lo: int,
    hi: int,
    overlap: bool,
    span: int,
    need: int | None,
) -> list[Key]:
    """Return the keys of the occurrences starting in [lo, hi) (with ``overlap``, of
    those overlapping it) in (start, id) order, at most ``need`` from each series
    besides its left-out ones: the first ``need`` keys are then those of the slice."""
    keys: list[Key] = []
    for index, row, left_out in recurring:
        series_id = row["id"]
        limit = None if need is None else need + len(left_out)
        originals = _occurrences(row, lo, hi, overlap, span, limit)
        if left_out:
            keys += [(o, series_id, o, index) for o in originals if o not in left_out]
        else:
            keys += [(o, series_id, o, index) for o in originals]
    keys.sort(key=_start)  # stable: equal starts keep the series' id order
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
