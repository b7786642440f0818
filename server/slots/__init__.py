"""Meeting-poll slot maths: the grid, participants' cells, counts and best windows.

A pure engine: no I/O, no database, nothing from ``server.domain``. Instants
are UTC Unix milliseconds (``int``) in and out; the caller converts the wire's
RFC 3339 strings. Every refusal is a ``SlotsError`` (a ``ValueError``) whose
``problems`` name each offending field or input item (``field``, a stable
``reason``, a ``message``); ``details()`` gives them in the shape of a
validation_error's details.

The grid::

    grid = build_grid(PollDefinition(start_date, end_date, available_days,
                                     start_time, end_time, time_slot_minutes, timezone))
    grid.cells      # (Cell(position, start, end, day, wall), ...) in time order
    grid.starts, grid.ends, len(grid), grid.index_of(start)

One cell per available date and per slot of the daily range, at that wall-clock
time in the poll's zone, so a 09:00 cell is 09:00 local on both sides of a DST
change. A wall time in a DST gap has no cell; one a fold repeats has one cell,
at its first pass (as the recurrence engine reads folds), and the repeated
real time is a hole between cells. A cell lasts ``time_slot_minutes`` unless the
next cell starts sooner (a DST change inside a long cell), so cells never
overlap. ``end_time`` of ``time(0)`` means 24:00. Grids are cached by definition.

Participants' input, each answering sorted cell starts, each cell once::

    cells_from_starts(grid, [start, ...])       # each must start a cell
    cells_from_ranges(grid, [(start, end), ...]) # the cells each range overlaps
    keep_cells(new_grid, old_starts)             # Kept(cells, dropped) after an update

A range covers every cell it overlaps, partly covered first and last cells
alike; overlapping and repeated input is merged. A range must lie inside one
poll day's range (first cell start to last cell end; days that touch, in a
poll running to 24:00, join up) and cover a cell; at most ``MAX_INPUT`` items.
An update keeps the cells whose UTC start is still a cell start.

Counts and windows::

    people = {participant_id: marks(grid, available_starts, if_need_be_starts), ...}
    count_cells(grid, people)   # (CellCount(start, end, available, if_need_be), ...)
    best_windows(grid, people, duration_minutes, min_people=1, required=(),
                 tier="if_need_be", limit=20)   # (Window(start, end, available,
                                                #  missing, if_need_be), ...) best first

``people`` lists every participant (empty ``Marks()`` for those who painted
nothing), in the order the id lists follow. ``Marks`` are bitmasks over one
grid; a cell in both tiers is available. A window is ``ceil(duration /
time_slot_minutes)`` consecutive cells, each ending where the next starts (so
a window crosses a spring-forward change or midnight in a poll running to 24:00,
never a fold's hole or a gap between days). With ``tier="available"`` only
first-tier cells count; with ``"if_need_be"`` both do, and whoever needs a
second-tier cell is listed in ``if_need_be``. ``available``, ``if_need_be`` and
``missing`` split the participants. Windows qualify when at least ``min_people``
(required people included) and every ``required`` participant are free; they
rank by most people, then fewest "if need be", then earliest start, and are
taken greedily in that order without overlap (a window sharing a cell with a
better one is left out), at most ``limit`` (1..MAX_WINDOWS).

The viewer's zone::

    viewer_days(grid, "Asia/Tokyo")   # (ViewerDay(day, cells), ...)

groups the unchanged cells by the viewer's local date of their start, so a
poll day may split over two viewer days.
"""

from server.slots.definition import MAX_DAYS, PollDefinition
from server.slots.errors import Problem, SlotsError
from server.slots.grid import Cell, Grid, build_grid
from server.slots.inputs import MAX_INPUT, Kept, cells_from_ranges, cells_from_starts, keep_cells
from server.slots.tally import CellCount, Marks, count_cells, marks
from server.slots.viewer import ViewerDay, viewer_days
from server.slots.windows import MAX_WINDOWS, TIERS, Window, best_windows

__all__ = [
    "MAX_DAYS",
    "MAX_INPUT",
    "MAX_WINDOWS",
    "TIERS",
    "Cell",
    "CellCount",
    "Grid",
    "Kept",
    "Marks",
    "PollDefinition",
    "Problem",
    "SlotsError",
    "ViewerDay",
    "Window",
    "best_windows",
    "build_grid",
    "cells_from_ranges",
    "cells_from_starts",
    "count_cells",
    "keep_cells",
    "marks",
    "viewer_days",
]
