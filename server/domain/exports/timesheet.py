"""Timers as time-tracking rows, written as CSV or JSON Lines a batch at a time. Pure.

The CSV columns follow Toggl's detailed export (the shape time trackers
import) where it has one, then ours; JSON Lines carries the same fields typed
(``schema.exports.ExportedTimer``). See docs/exports.md.

This is the export's hot loop (a million rows is a few seconds of it), so rows
are tuples in ``FIELDS`` order, read by position, and what repeats (a tag
list's names, a duration) is computed once.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from server.domain.exports.localtime import LocalClock, duration_text
from server.domain.exports.segments import ENDED, parse_history, split_runs

COLUMNS = (
    "Description",
    "Start date",
    "Start time",
    "End date",
    "End time",
    "Duration",
    "Tags",
    "Notes",
    "Status",
    "Segment",
    "Allocated",
    "Schedule ID",
    "Todo ID",
    "Timer ID",
)
# The columns a row holds, in this order (storage selects them so).
FIELDS = (
    "id",
    "title",
    "description",
    "status",
    "started_at",
    "ended_at",
    "accumulated_ms",
    "segment_started_at",
    "allocated_ms",
    "tag_ids",
    "schedule_id",
    "todo_id",
    "history_n",
)
(ID, TITLE, DESCRIPTION, STATUS, STARTED, ENDED_AT, ACCUMULATED, SEGMENT, ALLOCATED, TAG_IDS,
 SCHEDULE, TODO, HISTORY_N) = range(len(FIELDS))  # fmt: skip
# After FIELDS a row holds the keyset column, then (for run segments) the pause
# history as a JSON array (``storage.timers.read_histories``).
CREATED, HISTORY = len(FIELDS), len(FIELDS) + 1
TAG_SEPARATOR = ", "
_NL = orjson.OPT_APPEND_NEWLINE
_NO_END = ("", "")
# Distinct tag lists remembered per export; a bound, not a policy.
_MAX_TAG_LISTS = 10_000
# One output line: segment number (None for a whole timer), start, end, run time.
Line = tuple[int | None, int, int | None, int]
Row = Sequence[Any]


def run_ms(row: Row, now: int) -> int:
    """Return the timer's run time at ``now`` (as timers.logic.elapsed_ms, by position)."""
    if row[STATUS] == "RUNNING" and row[SEGMENT] is not None:
        return int(row[ACCUMULATED]) + max(0, now - row[SEGMENT])
    return int(row[ACCUMULATED])


def tag_ids_of(rows: Iterable[Row]) -> set[str]:
    """Return every tag id the rows carry."""
    return {t for row in rows if row[TAG_IDS] != "[]" for t in orjson.loads(row[TAG_IDS])}


class Timesheet:
    """Turn batches of timer rows into CSV or JSON Lines bytes, in one zone."""

    def __init__(self, clock: LocalClock, tag_names: Mapping[str, str], segments: bool) -> None:
        self.clock = clock
        self.tag_names = tag_names
        self.segments = segments
        self._tag_lists: dict[str, tuple[list[str], list[str], str]] = {}

    def csv_header(self) -> bytes:
        """Return the CSV header row."""
        return _csv_bytes([COLUMNS])

    def csv(self, rows: Iterable[Row], now: int) -> bytes:
        """Return the CSV rows of a batch (CRLF line ends, RFC 4180 quoting)."""
        return _csv_bytes(self._cells(rows, now))

    def jsonl(self, rows: Iterable[Row], now: int) -> bytes:
        """Return the JSON Lines of a batch."""
        return b"".join([orjson.dumps(obj, option=_NL) for obj in self._objects(rows, now)])

    def lines(self, row: Row, now: int) -> list[Line]:
        """Return the output lines of one timer: itself, or its run segments."""
        run = run_ms(row, now)
        if not self.segments:
            return [(None, row[STARTED], row[ENDED_AT] if row[STATUS] in ENDED else None, run)]
        marks = parse_history(orjson.loads(row[HISTORY]))
        runs = split_runs(marks, row[STARTED], row[STATUS], row[ENDED_AT], run)
        return [(s.number, s.start_ms, s.end_ms, s.run_ms) for s in runs]

    def tags(self, tag_ids: str) -> tuple[list[str], list[str], str]:
        """Return a ``tag_ids`` column's ids, their names, and the names joined for CSV."""
        found = self._tag_lists.get(tag_ids)
        if found is None:
            if len(self._tag_lists) >= _MAX_TAG_LISTS:
                self._tag_lists.clear()
            ids = orjson.loads(tag_ids)
            names = [self.tag_names[i] for i in ids if i in self.tag_names]
            found = self._tag_lists[tag_ids] = (ids, names, TAG_SEPARATOR.join(names))
        return found

    def _cells(self, rows: Iterable[Row], now: int) -> Iterator[tuple[Any, ...]]:
        when, hms, tags = self.clock.date_time, _hms, self.tags
        for row in rows:
            joined = tags(row[TAG_IDS])[2]
            allocated = hms(row[ALLOCATED] // 1000)
            for number, start, end, run in self.lines(row, now):
                yield (
                    row[TITLE],
                    *when(start),
                    *(_NO_END if end is None else when(end)),
                    hms(run // 1000),
                    joined,
                    row[DESCRIPTION],
                    row[STATUS],
                    number,
                    allocated,
                    row[SCHEDULE],
                    row[TODO],
                    row[ID],
                )

    def _objects(self, rows: Iterable[Row], now: int) -> Iterator[dict[str, Any]]:
        iso, tags = self.clock.iso, self.tags
        for row in rows:
            ids, names, _ = tags(row[TAG_IDS])
            for number, start, end, run in self.lines(row, now):
                yield {
                    "id": row[ID],
                    "title": row[TITLE],
                    "description": row[DESCRIPTION],
                    "status": row[STATUS],
                    "segment": number,
                    "start": iso(start),
                    "end": None if end is None else iso(end),
                    "duration_ms": run,
                    "allocated_ms": row[ALLOCATED],
                    "tags": names,
                    "tag_ids": ids,
                    "schedule_id": row[SCHEDULE],
                    "todo_id": row[TODO],
                }


@functools.lru_cache(maxsize=65_536)
def _hms(seconds: int) -> str:
    return duration_text(seconds * 1000)


def _csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()
