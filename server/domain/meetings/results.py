"""A poll's result: who is free per cell, and the best windows (computed by ``server.slots``)."""

from __future__ import annotations

from typing import Any

from schema.commands.meetings import ResultData
from server.clock import iso_ms
from server.domain.context import Services, Who
from server.domain.meetings.access import open_meeting
from server.domain.meetings.grid import grid_of, refusals
from server.domain.meetings.marks import marks_of
from server.slots import best_windows, count_cells


async def meeting_result(services: Services, who: Who, data: ResultData) -> dict[str, Any]:
    """Return counts per cell and the best windows of a poll the caller may open."""
    async with services.db.read() as conn:
        opened = await open_meeting(conn, who, data.id)
        grid = grid_of(opened.row)
        people = await marks_of(services.db).people(conn, data.id, grid)
    duration = data.duration_minutes or opened.row["time_slot_minutes"]
    min_people = data.min_people or 1
    with refusals("the result's query"):
        windows = best_windows(
            grid, people, duration, min_people=min_people, required=data.required, tier=data.tier
        )
    return {
        "meeting_id": data.id,
        "duration_minutes": duration,
        "min_people": min_people,
        "required": data.required,
        "tier": data.tier,
        "cells": [_span(c) for c in count_cells(grid, people)],
        "windows": [{**_span(w), "missing": list(w.missing)} for w in windows],
    }


def _span(item: Any) -> dict[str, Any]:
    return {
        "start": iso_ms(item.start),
        "end": iso_ms(item.end),
        "available": list(item.available),
        "if_need_be": list(item.if_need_be),
    }
