"""Timers as time-tracking rows, written as CSV or JSON Lines a chunk at a time. Pure.

The CSV columns follow Toggl's detailed export (the shape time trackers
import) where it has one, then ours; JSON Lines carries the same fields typed
(``schema.exports.ExportedTimer``). See docs/exports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from server.domain.exports.localtime import LocalClock, duration_text
from server.domain.exports.segments import ENDED, parse_history, split_runs
from server.domain.timers.logic import elapsed_ms

Row = Mapping[Any, Any]
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
# The columns a row needs, in the order storage reads them.
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
    "pause_history",
)
TAG_SEPARATOR = ", "
_NL = orjson.OPT_APPEND_NEWLINE
# One line of output: segment number (None for a whole timer), start, end, run time.
Line = tuple[int | None, int, int | None, int]


class Timesheet:
    """Turn batches of timer rows into CSV or JSON Lines bytes, in one zone."""

    def __init__(self, clock: LocalClock, tag_names: Mapping[str, str], segments: bool) -> None:
        self.clock = clock
        self.tag_names = tag_names
        self.segments = segments

    def csv_header(self) -> bytes:
        """Return the CSV header row."""
        return _csv_bytes([COLUMNS])

    def csv(self, rows: Sequence[Row], now: int) -> bytes:
        """Return the CSV rows of a batch (CRLF line ends, RFC 4180 quoting)."""
        return _csv_bytes(self._cells(rows, now))

    def jsonl(self, rows: Sequence[Row], now: int) -> bytes:
        """Return the JSON Lines of a batch."""
        return b"".join(orjson.dumps(obj, option=_NL) for obj in self._objects(rows, now))

    def lines(self, row: Row, now: int) -> list[Line]:
        """Return the output lines of one timer: itself, or its run segments."""
        run = elapsed_ms(row, now)
        if not self.segments:
            end = row["ended_at"] if row["status"] in ENDED else None
            return [(None, row["started_at"], end, run)]
        marks = parse_history(orjson.loads(row["pause_history"]))
        runs = split_runs(marks, row["started_at"], row["status"], row["ended_at"], run)
        return [(s.number, s.start_ms, s.end_ms, s.run_ms) for s in runs]

    def _cells(self, rows: Sequence[Row], now: int) -> Iterator[list[Any]]:
        when = self.clock.date_time
        for row in rows:
            tags = TAG_SEPARATOR.join(self._names(row))
            for number, start, end, run in self.lines(row, now):
                ends = when(end) if end is not None else ("", "")
                yield [
                    row["title"],
                    *when(start),
                    *ends,
                    duration_text(run),
                    tags,
                    row["description"],
                    row["status"],
                    number,
                    duration_text(row["allocated_ms"]),
                    row["schedule_id"],
                    row["todo_id"],
                    row["id"],
                ]

    def _objects(self, rows: Sequence[Row], now: int) -> Iterator[dict[str, Any]]:
        iso = self.clock.iso
        for row in rows:
            tag_ids = orjson.loads(row["tag_ids"])
            for number, start, end, run in self.lines(row, now):
                yield {
                    "id": row["id"],
                    "title": row["title"],
                    "description": row["description"],
                    "status": row["status"],
                    "segment": number,
                    "start": iso(start),
                    "end": None if end is None else iso(end),
                    "duration_ms": run,
                    "allocated_ms": row["allocated_ms"],
                    "tags": self._names(row, tag_ids),
                    "tag_ids": tag_ids,
                    "schedule_id": row["schedule_id"],
                    "todo_id": row["todo_id"],
                }

    def _names(self, row: Row, tag_ids: Iterable[str] | None = None) -> list[str]:
        ids = orjson.loads(row["tag_ids"]) if tag_ids is None else tag_ids
        return [self.tag_names[i] for i in ids if i in self.tag_names]


def _csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()
