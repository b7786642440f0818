"""The grid as a viewer in another zone sees it: cells grouped by the viewer's local date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import NamedTuple

from server.slots.definition import load_zone
from server.slots.grid import Cell, Grid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ViewerDay(NamedTuple):
    """One local date of the viewer and the grid's cells that start on it, in time order."""

    day: date
    cells: tuple[Cell, ...]


def viewer_days(grid: Grid, timezone: str) -> tuple[ViewerDay, ...]:
    """Return the grid's cells grouped by the date their start falls on in ``timezone``."""
    zone = load_zone(timezone, "timezone")

    def local_day(cell: Cell) -> date:
        return (_EPOCH + timedelta(milliseconds=cell.start)).astimezone(zone).date()

    # Starts only grow, so each local date's cells are one run.
    return tuple(ViewerDay(day, tuple(cells)) for day, cells in groupby(grid.cells, key=local_day))
