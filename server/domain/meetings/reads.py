"""Reading polls: one with everyone's cells, the caller's list."""

from __future__ import annotations

from typing import Any

from schema.commands.meetings import MeetingListData
from server.clock import iso_ms
from server.domain.context import Services, Who
from server.domain.meetings.access import open_meeting
from server.domain.meetings.grid import grid_of
from server.domain.meetings.views import detail_view, meeting_view
from server.domain.paging import decode_cursor, encode_cursor
from server.slots import viewer_days
from server.storage import meetings as store


async def get_meeting_detail(
    services: Services, who: Who, meeting_id: str, tz: str | None = None
) -> dict[str, Any]:
    """Return a poll the caller may open, with its participants and their cells.

    With ``tz``, the grid's cells grouped by the viewer's local dates too.
    """
    async with services.db.read() as conn:
        opened = await open_meeting(conn, who, meeting_id)
        rows = await store.list_participants(conn, meeting_id)
    you = opened.participant["id"] if opened.participant is not None else None
    return {
        "meeting": meeting_view(opened.row, owner=opened.owner),
        "participants": [detail_view(row) for row in rows],
        "you": you,
        "days": None if tz is None else _days(opened.row, tz),
    }


def _days(row: Any, tz: str) -> list[dict[str, Any]]:
    return [
        {"date": day.day.isoformat(), "cells": [iso_ms(cell.start) for cell in day.cells]}
        for day in viewer_days(grid_of(row), tz)
    ]


async def list_meetings(services: Services, user_id: str, data: MeetingListData) -> dict[str, Any]:
    """Return the polls the user owns or joined, newest first, a page at a time."""
    after = None
    if data.cursor is not None:
        created_at, ident = decode_cursor(data.cursor, (int, str))
        after = (created_at, ident)
    async with services.db.read() as conn:
        rows = await store.list_meetings_of(conn, user_id, after, data.limit + 1)
    page = rows[: data.limit]
    items = [meeting_view(row, owner=row["owner_id"] == user_id) for row in page]
    last = page[-1] if len(rows) > data.limit else None
    cursor = None if last is None else encode_cursor([last["created_at"], last["id"]])
    return {"items": items, "next_cursor": cursor}
