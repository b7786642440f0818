"""Meeting-poll slot maths: the grid of a poll definition and participants' cells.

A pure engine: no I/O, no database, nothing from ``server.domain``. Instants
are UTC Unix milliseconds. ``build_grid`` validates a ``PollDefinition`` (every
problem named in one ``SlotsError``) and returns its cells in time order; wall
times in a DST gap have no cell, a repeated hour has its cells once, at the
first pass. ``cells_from_starts`` and ``cells_from_ranges`` check a
participant's input against the grid (a range covers every cell it overlaps,
first and last alike) and ``keep_cells`` says what a changed grid keeps.
"""

from server.slots.definition import MAX_DAYS, PollDefinition
from server.slots.errors import Problem, SlotsError
from server.slots.grid import Cell, Grid, build_grid
from server.slots.inputs import MAX_INPUT, Kept, cells_from_ranges, cells_from_starts, keep_cells

__all__ = [
    "MAX_DAYS",
    "MAX_INPUT",
    "Cell",
    "Grid",
    "Kept",
    "PollDefinition",
    "Problem",
    "SlotsError",
    "build_grid",
    "cells_from_ranges",
    "cells_from_starts",
    "keep_cells",
]
