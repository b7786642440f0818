"""A window's schedules and occurrences, generated lazily in start order.

Each series yields its occurrences from the engine (which seeks to the window
instead of iterating from DTSTART) one month at a time, so the first items of a
year window come after a month's work, not a year's; overrides replace or
cancel occurrences, and an occurrence moved into the window from outside it is
found by its new time. heapq.merge keeps one pending item per series, so a year
window streams without holding its 150,000 occurrences.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from server.domain.schedules.recurrence import occurrences, parse_instance_id
from server.domain.schedules.series import series_of

Row = Mapping[Any, Any]
SLICE_MS = 31 * 86_400_000
SINGLE = -1  # the ``original`` of a schedule that does not recur


# One entry of a window: (start, series id, original start, series row, override).
# A plain tuple (a year window makes 150,000 of them), ordered by its first three
# fields, which is the order of (start, id): occurrence ids are the series id
# (fixed width) followed by the fixed-width original start.
Item = tuple[int, str, int, Row, Row | None]


def window_items(
    rows: Sequence[Row],
    overrides: Iterable[Row],
    start: int,
    end: int,
    after: tuple[int, str] | None = None,
) -> Iterator[Item]:
    """Yield what overlaps [start, end) in (start, id) order, after the keyset ``after``."""
    by_key = {(o["series_id"], o["original_start"]): o for o in overrides}
    from_ = start if after is None else max(start, after[0])
    streams: list[Iterator[Item]] = [_series_items(row, by_key, from_, start, end) for row in rows]
    streams.append(iter(_moved_in(rows, by_key, start, end)))
    position = None if after is None else (after[0], *_id_key(after[1]))
    for item in heapq.merge(*streams):
        if position is None or item[:3] > position:
            yield item


def _id_key(ident: str) -> tuple[str, int]:
    parsed = parse_instance_id(ident)
    return (ident, SINGLE) if parsed is None else parsed


def _series_items(
    row: Row, overrides: Mapping[tuple[str, int], Row], from_: int, start: int, end: int
) -> Iterator[Item]:
    series_id = row["id"]
    if row["recurrence_rule"] is None:
        if row["start_at"] < end and row["end_at"] > start:
            yield (row["start_at"], series_id, SINGLE, row, None)
        return
    series = series_of(row)
    duration = row["end_at"] - row["start_at"]
    lo = from_
    while lo < end:
        hi = min(lo + SLICE_MS, end)
        # Occurrences overlapping [lo, hi); those starting before lo were
        # yielded by the previous slice (only the first slice takes them).
        for original in occurrences(series, lo, hi):
            if original < lo and lo != from_:
                continue
            override = overrides.get((series_id, original))
            if override is None:
                yield (original, series_id, original, row, None)
            elif not override["cancelled"] and not _moved(override, duration):
                yield (original, series_id, original, row, override)
        lo = hi


def _moved_in(
    rows: Sequence[Row], overrides: Mapping[tuple[str, int], Row], start: int, end: int
) -> list[Item]:
    """Return moved overrides overlapping the window, found by their new time."""
    series = {row["id"]: row for row in rows}
    moved = []
    for (series_id, original), override in overrides.items():
        row = series.get(series_id)
        if row is None or override["cancelled"]:
            continue
        if not _moved(override, row["end_at"] - row["start_at"]):
            continue
        if override["start_at"] < end and override["end_at"] > start:
            moved.append((override["start_at"], series_id, original, row, override))
    return sorted(moved, key=lambda item: item[:3])


def _moved(override: Row, duration: int) -> bool:
    """Say whether an override gives its occurrence other times than the series does."""
    original = override["original_start"]
    return bool(override["start_at"] != original or override["end_at"] != original + duration)
