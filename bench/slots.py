"""The slots engine alone: a 672-cell poll with 100 participants, and the largest grid.

The issue's case: 100 participants on a 14-day poll (2026-03-02..15, New York,
so the DST change of March 8 is inside) with 15-minute cells from 08:00 to
20:00 (672 cells), everyone painting. Times, on the engine only (no database,
no server), medians and 95th percentiles of 200 runs unless said otherwise:
- build_grid, cold (cache emptied) and cached;
- cells_from_starts (672 starts) and cells_from_ranges (14 ranges), one participant;
- marks for all 100 from their stored cell starts (what a result read does first);
- count_cells (who is free in each cell);
- best_windows, duration 90, min_people 60 (target: well under 20 ms), then with
  one required participant and the second tier off;
- the whole engine part of meeting.result: marks + count_cells + best_windows;
- the same with every participant painting every cell (the densest input);
- the largest grid the limits allow (366 days x 24 h x 5 minutes: 105,396 cells
  in Berlin, whose spring gap has none): build, and best_windows for 10 participants.

Run: .venv/bin/python bench/slots.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.slots import (
    Grid,
    Marks,
    PollDefinition,
    best_windows,
    build_grid,
    cells_from_ranges,
    cells_from_starts,
    count_cells,
    marks,
)
from server.slots import grid as grid_module

POLL = PollDefinition(
    date(2026, 3, 2), date(2026, 3, 15), range(7), clock(8), clock(20), 15, "America/New_York"
)
LARGEST = PollDefinition(
    date(2028, 1, 1), date(2028, 12, 31), range(7), clock(0), clock(0), 5, "Europe/Berlin"
)
Stored = dict[str, tuple[list[int], list[int]]]


def timed(action: Callable[[], object], repeat: int = 200) -> tuple[float, float, float]:
    """Return the median wall time, its 95th percentile and the median CPU time (ms) of runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        began, cpu = time.perf_counter(), time.process_time()
        action()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - began) * 1000)
    walls.sort()
    return (
        statistics.median(walls),
        walls[max(0, int(len(walls) * 0.95) - 1)],
        statistics.median(cpus),
    )


def painted(grid: Grid, people: int, seed: int = 7) -> Stored:
    """Return each participant's cell starts (first tier, if need be): busy days, correlated."""
    rng = random.Random(seed)
    stored: Stored = {}
    by_day: dict[date, list[int]] = {}
    for cell in grid.cells:
        by_day.setdefault(cell.day, []).append(cell.start)
    for n in range(people):
        first: list[int] = []
        second: list[int] = []
        for day, starts in by_day.items():
            if rng.random() < (0.85 if day.weekday() < 5 else 0.4):
                begin = rng.randrange(0, 12)  # from 08:00 to 11:00
                length = rng.randrange(16, 40)  # 4 to 10 hours
                first += starts[begin : begin + length]
                second += starts[begin + length : begin + length + 8]
        stored[f"p{n:03d}"] = (first, second)
    return stored


def prepared(grid: Grid, stored: Stored) -> dict[str, Marks]:
    """Return every participant's marks from the stored starts."""
    return {person: marks(grid, first, second) for person, (first, second) in stored.items()}


def result(grid: Grid, stored: Stored) -> object:
    """Do what meeting.result asks of the engine."""
    people = prepared(grid, stored)
    return count_cells(grid, people), best_windows(grid, people, 90, min_people=60)


def line(label: str, figures: tuple[float, float, float], note: str = "") -> None:
    """Print one row: label, median wall time, its p95, median CPU time and a note."""
    wall, p95, cpu = figures
    print(f"{label:50} {wall:8.3f} ms  {p95:9.3f} ms  {cpu:9.3f} ms  {note}")


def main() -> None:
    """Print the figures."""
    argparse.ArgumentParser(description=__doc__).parse_args()  # --help; no options
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{'':50} {'median wall':>11}  {'p95 wall':>12}  {'median cpu':>12}")
    build_grid(LARGEST)  # loads the zone list and zones: not part of a grid's cost
    line("build_grid, uncached (672 cells)", timed(lambda: _uncached(POLL), 20))
    line("build_grid, cached", timed(lambda: build_grid(POLL)))
    grid = build_grid(POLL)
    stored = painted(grid, 100)
    one = stored["p000"][0]
    line("cells_from_starts, 672 starts", timed(lambda: cells_from_starts(grid, grid.starts)))
    ranges = _ranges(grid, one)
    line(f"cells_from_ranges, {len(ranges)} ranges", timed(lambda: cells_from_ranges(grid, ranges)))
    line("marks, 100 participants from stored starts", timed(lambda: prepared(grid, stored)))
    people = prepared(grid, stored)
    marked = sum(len(a) + len(b) for a, b in stored.values())
    counted = timed(lambda: count_cells(grid, people))
    line("count_cells, 100 participants", counted, f"{marked} marks")
    windows = best_windows(grid, people, 90, min_people=60)
    best = f"{len(windows[0].available) + len(windows[0].if_need_be)} people" if windows else "-"
    figures = timed(lambda: best_windows(grid, people, 90, min_people=60))
    line("best_windows 90 min, min_people 60", figures, f"{len(windows)} windows, best {best}")
    found = len(best_windows(grid, people, 90, min_people=60, required=["p001"], tier="available"))
    solo = timed(
        lambda: best_windows(grid, people, 90, min_people=60, required=["p001"], tier="available")
    )
    line("  same, required 1, tier available", solo, f"{found} windows")
    line("meeting.result's engine part (marks+count+best)", timed(lambda: result(grid, stored)))
    full = {p: (list(grid.starts), list(grid.starts)) for p in stored}
    line("  same, everyone painting every cell", timed(lambda: result(grid, full)))
    largest()


def largest() -> None:
    """Time the largest grid: build cold, and a window query for 10 participants."""
    line("largest grid: build_grid, uncached (105,396 cells)", timed(lambda: _uncached(LARGEST), 3))
    grid = build_grid(LARGEST)
    people = prepared(grid, painted(grid, 10))
    figures = timed(lambda: best_windows(grid, people, 90, min_people=6), 5)
    line("largest grid: best_windows 90 min, 10 people", figures)


def _uncached(poll: PollDefinition) -> Grid:
    """Build a grid with the cache emptied first."""
    grid_module._CACHE.grids.clear()
    grid_module._CACHE.cells = 0
    return build_grid(poll)


def _ranges(grid: Grid, starts: list[int]) -> list[tuple[int, int]]:
    """Return the painted cells as ranges, one per run of touching cells."""
    found: list[tuple[int, int]] = []
    for start in sorted(starts):
        end = grid.ends[grid.index_of(start) or 0]
        if found and found[-1][1] == start:
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
    return found


if __name__ == "__main__":
    main()
