"""Reading polls: one with everyone's cells, the caller's list."""

from __future__ import annotations

from typing import Any

from schema.commands.meetings import MeetingListData
from server.domain.context import Services, Who
from server.domain.meetings.access import open_meeting
from server.domain.meetings.views import detail_view, meeting_view
from server.domain.paging import decode_cursor, encode_cursor
from server.storage import meetings as store


async def get_meeting_detail(services: Services, who: Who, meeting_id: str) -> dict[str, Any]:
    """Return a poll the caller may open, with its participants and their cells."""
    async with services.db.read() as conn:
        opened = await open_meeting(conn, who, meeting_id)
        rows = await store.list_participants(conn, meeting_id)
    you = opened.participant["id"] if opened.participant is not None else None
    return {
        "meeting": meeting_view(opened.row, owner=opened.owner),
        "participants": [detail_view(row) for row in rows],
        "you": you,
    }


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
