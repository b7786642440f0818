"""Participants' cells: replacing a tier's cells, and filling them from one's own schedules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.commands.meetings import AvailabilitySetData
from server.domain.context import Actor, Mutation, Services, Who, mutate, retrying
from server.domain.editing import write_row
from server.domain.meetings.grid import grid_of, refusals
from server.domain.meetings.participants import load_own_participant, meeting_of_participant
from server.domain.meetings.views import availability_view, cells_of
from server.domain.paging import parse_instant
from server.domain.schedules.busy import busy_spans
from server.realtime.topics import meeting_topic
from server.slots import Grid, cells_from_ranges, cells_from_starts
from server.storage.tables import meeting_participants

TIERS = ("available", "if_need_be")


@retrying
async def do_set_cells(
    services: Services, actor: Actor, who: Who, data: AvailabilitySetData
) -> dict[str, Any]:
    """Replace the caller's cells of one tier; they leave the other tier, so none counts twice."""
    meeting_id = await meeting_of_participant(services, data.participant_id)
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row, opened = await load_own_participant(m, who, data.participant_id, data.if_version)
        grid = grid_of(opened.row)
        with refusals("cells outside the poll's grid"):
            cells = _cells(grid, data)
        return m.done(await _write(m, row, data.tier, cells))


@retrying
async def do_autofill(
    services: Services, actor: Actor, who: Who, participant_id: str
) -> dict[str, Any]:
    """Mark free the cells the caller's own schedules leave free (their first tier).

    Only the cells leave the transaction: no schedule reaches anyone else.
    """
    meeting_id = await meeting_of_participant(services, participant_id)
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row, opened = await load_own_participant(m, who, participant_id, None)
        grid = grid_of(opened.row)
        free = await _free_cells(m.conn, who.user_id, grid)
        return m.done(await _write(m, row, "available", free))


def _cells(grid: Grid, data: AvailabilitySetData) -> Sequence[int]:
    if data.cells is not None:
        starts = [_ms(value, f"cells[{n}]") for n, value in enumerate(data.cells)]
        return cells_from_starts(grid, starts)
    ranges = data.ranges or []
    spans = [
        (_ms(r.start, f"ranges[{n}].start"), _ms(r.end, f"ranges[{n}].end"))
        for n, r in enumerate(ranges)
    ]
    return cells_from_ranges(grid, spans)


def _ms(value: str, field: str) -> int:
    ms = parse_instant(value, field)
    assert ms is not None  # a str always parses to an instant or raises
    return ms


async def _write(m: Mutation, row: RowMapping, tier: str, cells: Sequence[int]) -> dict[str, Any]:
    chosen = set(cells)
    other = TIERS[1 - TIERS.index(tier)]
    changes = {
        tier: orjson.dumps(sorted(chosen)).decode(),
        other: orjson.dumps([c for c in cells_of(row, other) if c not in chosen]).decode(),
    }
    view = availability_view(await write_row(m, meeting_participants, row, changes))
    m.emit(meeting_topic(row["meeting_id"]), "meeting_availability.updated", view)
    return view


async def _free_cells(conn: AsyncConnection, user_id: str, grid: Grid) -> list[int]:
    busy = bytearray(len(grid))
    if len(grid):
        for start, end in await busy_spans(conn, user_id, grid.starts[0], grid.ends[-1]):
            for position in grid.covering(start, end):
                busy[position] = 1
    return [start for start, taken in zip(grid.starts, busy, strict=True) if not taken]
