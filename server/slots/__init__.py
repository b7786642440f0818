"""Meeting-poll slot maths: the grid of a poll definition, in the poll's own zone.

A pure engine: no I/O, no database, nothing from ``server.domain``. Instants
are UTC Unix milliseconds. ``build_grid`` validates a ``PollDefinition`` (every
problem named in one ``SlotsError``) and returns its cells in time order; wall
times in a DST gap have no cell, a repeated hour has its cells once, at the
first pass.
"""

from server.slots.definition import MAX_DAYS, PollDefinition
from server.slots.errors import Problem, SlotsError
from server.slots.grid import Cell, Grid, build_grid

__all__ = [
    "MAX_DAYS",
    "Cell",
    "Grid",
    "PollDefinition",
    "Problem",
    "SlotsError",
    "build_grid",
]
