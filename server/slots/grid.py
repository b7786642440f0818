"""The grid: a poll's cells in time order, each a UTC interval starting at a wall-clock time."""

from __future__ import annotations

import bisect
import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from server.slots.bits import from_flags, runs
from server.slots.definition import PollDefinition, Spec, check_definition
from server.slots.errors import Problem, SlotsError

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_EPOCH_ORD = date(1970, 1, 1).toordinal()
# Grids kept for reuse, counted in cells (about 300 bytes each, measured): the
# largest grid the limits allow (366 days of 24 h in 5-minute cells) is 105,408
# cells, a 14-day poll of 15-minute cells from 08:00 to 20:00 is 672.
CACHE_CELLS = 120_000


class Cell(NamedTuple):
    """One cell: its position, UTC start and end (ms), and its poll-local date and start time."""

    position: int
    start: int
    end: int
    day: date
    wall: time


class Grid:
    """A poll's cells, ordered by start; build it with ``build_grid``, never change it.

    ``starts`` and ``ends`` repeat the cells' bounds as plain tuples. Cells are
    disjoint: a cell lasts ``time_slot_minutes`` unless the next one starts
    sooner (a DST change inside it moved the next wall-clock time closer).
    """

    __slots__ = (
        "_index",
        "_links",
        "_span_ends",
        "_span_starts",
        "cells",
        "definition",
        "ends",
        "starts",
    )

    def __init__(
        self, definition: PollDefinition, cells: tuple[Cell, ...], spans: list[tuple[int, int]]
    ) -> None:
        self.definition = definition
        self.cells = cells
        self.starts = tuple(cell.start for cell in cells)
        self.ends = tuple(cell.end for cell in cells)
        self._index = dict(zip(self.starts, range(len(cells)), strict=True))
        self._links = from_flags(bytes(map(operator.eq, self.ends, self.starts[1:])))
        self._span_starts = [start for start, _ in spans]
        self._span_ends = [end for _, end in spans]

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        return f"<Grid {len(self)} cells {self.definition}>"

    def index_of(self, start: int) -> int | None:
        """Return the position of the cell starting at ``start`` (UTC ms), or None."""
        return self._index.get(start)

    def covering(self, start: int, end: int) -> range:
        """Return the indices of the cells that overlap [start, end), partly or wholly."""
        return range(bisect.bisect_right(self.ends, start), bisect.bisect_left(self.starts, end))

    def inside(self, start: int, end: int) -> bool:
        """Return whether [start, end) lies within one poll day's range (or touching ones)."""
        pos = bisect.bisect_right(self._span_starts, start) - 1
        return pos >= 0 and end <= self._span_ends[pos]

    def span_around(self, start: int) -> tuple[int, int] | None:
        """Return the merged day range [first start, last end] that holds ``start``, if any."""
        pos = bisect.bisect_right(self._span_starts, start) - 1
        if pos < 0 or start >= self._span_ends[pos]:
            return None
        return self._span_starts[pos], self._span_ends[pos]

    def mask(self, starts: Iterable[int]) -> int:
        """Return the bitmask of the cells starting at ``starts``; other instants are ignored."""
        flags, index = bytearray(len(self.cells)), self._index
        for start in starts:
            i = index.get(start)
            if i is not None:
                flags[i] = 1
        return from_flags(flags)

    def window_starts(self, count: int) -> int:
        """Return the mask of cells that begin ``count`` cells each ending where the next starts."""
        if count > len(self.cells):
            return 0
        return runs(self._links, count - 1) & ((1 << len(self.cells)) - 1)


def build_grid(poll: PollDefinition) -> Grid:
    """Return the poll's grid; raise SlotsError naming every bad field of the definition."""
    return _CACHE.get(check_definition(poll))


class _Cache:
    """The grids built last, up to CACHE_CELLS cells in all (the newest is always kept)."""

    def __init__(self, budget: int) -> None:
        self.budget, self.cells = budget, 0
        self.grids: OrderedDict[Spec, Grid] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, spec: Spec) -> Grid:
        with self.lock:
            grid = self.grids.get(spec)
            if grid is not None:
                self.grids.move_to_end(spec)
                return grid
        grid = _build(spec)
        with self.lock:
            if spec not in self.grids:
                self.grids[spec], self.cells = grid, self.cells + len(grid)
            while self.cells > self.budget and len(self.grids) > 1:
                self.cells -= len(self.grids.popitem(last=False)[1])
        return grid


_CACHE = _Cache(CACHE_CELLS)


def _build(spec: Spec) -> Grid:
    zone = ZoneInfo(spec.zone)
    walls = [time(m // 60, m % 60) for m in range(spec.start_minute, spec.end_minute, spec.slot)]
    starts: list[int] = []
    days: list[date] = []
    wall_of: list[time] = []
    firsts: list[int] = []  # each day's first cell
    for day in _days(spec):
        day_starts, day_walls = _day_starts(zone, day, walls)
        if day_starts:
            firsts.append(len(starts))
            starts += day_starts
            wall_of += day_walls
            days += [day] * len(day_starts)
    if not starts:
        message = "every cell of the poll falls in a DST gap: the poll has no cell"
        raise SlotsError([Problem("available_days", "no_cells", message)])
    slot_ms = spec.slot * MINUTE_MS
    ends = list(map(min, map(slot_ms.__add__, starts), [*starts[1:], starts[-1] + slot_ms]))
    cells = tuple(map(Cell, range(len(starts)), starts, ends, days, wall_of))
    return Grid(_definition(spec), cells, _spans(firsts, starts, ends))


def _days(spec: Spec) -> Iterable[date]:
    for n in range((spec.last - spec.first).days + 1):
        day = spec.first + timedelta(days=n)
        if day.weekday() in spec.days:
            yield day


def _day_starts(zone: ZoneInfo, day: date, walls: list[time]) -> tuple[list[int], list[time]]:
    base = (day.toordinal() - _EPOCH_ORD) * DAY_MS
    ends = (datetime.combine(day, walls[0], zone), datetime.combine(day, walls[-1], zone))
    offsets = {_offset(moment.replace(fold=fold)) for moment in ends for fold in (0, 1)}
    if len(offsets) == 1:
        # tzdata has no two transitions within 3.9 days of each other (see
        # server/domain/schedules/zones.py), so one offset at both ends holds in between.
        local = base - offsets.pop()
        return [local + _wall_ms(wall) for wall in walls], walls
    found = [(start, wall) for wall in walls if (start := _instant(zone, day, wall, base))]
    return [start for start, _ in found], [wall for _, wall in found]


def _instant(zone: ZoneInfo, day: date, wall: time, base: int) -> int | None:
    """Return the wall time's instant: None in a DST gap, the first pass in a fold."""
    moment = datetime.combine(day, wall, zone)
    first, second = _offset(moment), _offset(moment.replace(fold=1))
    if first < second:  # fold=0 reads a gap with the offset before it, fold=1 after
        return None
    return base + _wall_ms(wall) - first


def _offset(moment: datetime) -> int:
    return (moment.utcoffset() or timedelta(0)) // timedelta(milliseconds=1)


def _wall_ms(wall: time) -> int:
    return (wall.hour * 60 + wall.minute) * MINUTE_MS


def _spans(firsts: list[int], starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
    """Return each day's range, first start to last end, joining days that touch (to 24:00)."""
    spans: list[tuple[int, int]] = []
    for first, after in zip(firsts, [*firsts[1:], len(starts)], strict=True):
        if spans and spans[-1][1] == starts[first]:
            spans[-1] = (spans[-1][0], ends[after - 1])
        else:
            spans.append((starts[first], ends[after - 1]))
    return spans


def _definition(spec: Spec) -> PollDefinition:
    end = spec.end_minute % (24 * 60)
    return PollDefinition(
        spec.first, spec.last, spec.days, time(spec.start_minute // 60, spec.start_minute % 60),
        time(end // 60, end % 60), spec.slot, spec.zone,
    )  # fmt: skip
