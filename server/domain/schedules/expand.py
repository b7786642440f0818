"""A window's schedules and occurrences, generated lazily in start order.

Each series yields its occurrences from the engine (which seeks to the window
instead of iterating from DTSTART); overrides replace or cancel occurrences,
and an occurrence moved into the window from outside it is found by its new
time. heapq.merge keeps one pending item per series, so a year window streams
without holding its 150,000 occurrences.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.domain.schedules.recurrence import instance_id, occurrences
from server.domain.schedules.series import series_of

Row = Mapping[Any, Any]


@dataclass(frozen=True)
class Item:
    """One entry of a window: a single schedule or an occurrence (``original`` set)."""

    start: int
    id: str
    series: Row
    original: int | None
    override: Row | None


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
    streams = [_series_items(row, by_key, from_, start, end) for row in rows]
    streams.append(iter(_moved_in(rows, by_key, start, end)))
    for item in heapq.merge(*streams, key=lambda i: (i.start, i.id)):
        if after is None or (item.start, item.id) > after:
            yield item


def _series_items(
    row: Row, overrides: Mapping[tuple[str, int], Row], from_: int, start: int, end: int
) -> Iterator[Item]:
    if row["recurrence_rule"] is None:
        if row["start_at"] < end and row["end_at"] > start:
            yield Item(row["start_at"], row["id"], row, None, None)
        return
    # The engine yields occurrences overlapping [from_, end); from_ >= start.
    for original in occurrences(series_of(row), from_, end):
        override = overrides.get((row["id"], original))
        if override is None:
            yield Item(original, instance_id(row["id"], original), row, original, None)
        elif not override["cancelled"] and not _moved(row, override):
            yield Item(original, instance_id(row["id"], original), row, original, override)


def _moved_in(
    rows: Sequence[Row], overrides: Mapping[tuple[str, int], Row], start: int, end: int
) -> list[Item]:
    """Return moved overrides overlapping the window, found by their new time."""
    series = {row["id"]: row for row in rows}
    moved = []
    for (series_id, original), override in overrides.items():
        row = series.get(series_id)
        if row is None or override["cancelled"] or not _moved(row, override):
            continue
        if override["start_at"] < end and override["end_at"] > start:
            moved.append(
                Item(
                    override["start_at"], instance_id(series_id, original), row, original, override
                )
            )
    return sorted(moved, key=lambda i: (i.start, i.id))


def _moved(row: Row, override: Row) -> bool:
    """Say whether an override gives its occurrence other times than the series does."""
    original = override["original_start"]
    return bool(
        override["start_at"] != original
        or override["end_at"] != original + row["end_at"] - row["start_at"]
    )
