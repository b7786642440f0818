"""A timer's run segments between pauses, rebuilt from its pause history. Pure.

Each pause and resume is kept in ``pause_history`` with the instant and the
elapsed run time at that moment, so a segment's run time is exact: the elapsed
time at its pause minus that at its resume. The history keeps the newest 50
entries (``HISTORY_MAX``): when older ones were dropped, the run time before
the first kept entry is one *folded* segment, numbered 0, spanning from the
timer's start to that entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.clock import to_ms

ENDED = frozenset({"COMPLETED", "CANCELLED"})


@dataclass(frozen=True)
class Segment:
    """One run: its number (0: folded earlier runs), start, end (None: running) and run time."""

    number: int
    start_ms: int
    end_ms: int | None
    run_ms: int


@dataclass(frozen=True)
class Mark:
    """One pause-history entry, parsed."""

    action: str
    at_ms: int
    elapsed_ms: int


def parse_history(entries: Sequence[dict[str, Any]]) -> list[Mark]:
    """Parse stored pause-history entries (``at`` is RFC 3339)."""
    return [
        Mark(e["action"], to_ms(datetime.fromisoformat(e["at"])), int(e["elapsed_ms"]))
        for e in entries
    ]


def is_complete(marks: Sequence[Mark], started_at: int) -> bool:
    """Tell whether the history starts with the timer's first pause (nothing was dropped)."""
    if not marks:
        return True
    first = marks[0]
    return first.action == "pause" and first.elapsed_ms == first.at_ms - started_at


def split_runs(
    marks: Sequence[Mark], started_at: int, status: str, ended_at: int | None, elapsed_ms: int
) -> list[Segment]:
    """Return the timer's run segments; ``elapsed_ms`` is its run time now (or at its end)."""
    out: list[Segment] = []
    open_at: int | None = started_at  # the running segment's start; None while paused
    base = 0  # the elapsed run time when that segment started
    if not is_complete(marks, started_at):
        first, marks = marks[0], marks[1:]
        out.append(Segment(0, started_at, first.at_ms, first.elapsed_ms))
        open_at, base = (first.at_ms, first.elapsed_ms) if first.action == "resume" else (None, 0)
    number = 1
    for mark in marks:
        if mark.action == "pause" and open_at is not None:
            out.append(Segment(number, open_at, mark.at_ms, mark.elapsed_ms - base))
            number, open_at = number + 1, None
        elif mark.action == "resume" and open_at is None:
            open_at, base = mark.at_ms, mark.elapsed_ms
    if open_at is not None:
        end = ended_at if status in ENDED else None
        out.append(Segment(number, open_at, end, elapsed_ms - base))
    return out
