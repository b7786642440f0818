"""Opening a poll from the database: by id or by link, for a user or a guest."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.errors import ErrorCode
from server.domain.context import Who
from server.domain.meetings.policy import can_open
from server.domain.visibility.access import relation_between
from server.domain.visibility.policy import SELF, STRANGER, visibility_view
from server.errors import ApiError, not_found
from server.storage import meetings as store


@dataclass(frozen=True)
class Opened:
    """A poll someone may open, with their participant row (if they have one)."""

    row: RowMapping
    participant: RowMapping | None
    owner: bool


async def open_meeting(
    conn: AsyncConnection, who: Who, meeting_id: str, *, for_update: bool = False
) -> Opened:
    """Return the poll ``meeting_id`` if ``who`` may open it; else not_found (or forbidden)."""
    if who.guest is not None and who.guest.meeting_id != meeting_id:
        raise outside_scope()
    row = await store.get_meeting(conn, meeting_id, for_update=for_update)
    if row is None:
        raise not_found("meeting", meeting_id)
    return await _admit(conn, who, row)


async def open_link(conn: AsyncConnection, who: Who, share_token: str) -> Opened:
    """Return the poll behind a link if ``who`` may open it; an unknown link is not_found."""
    meeting_id = await store.meeting_id_by_token(conn, share_token)
    if meeting_id is None:
        raise ApiError(
            ErrorCode.NOT_FOUND,
            "no poll has this link (it may have been replaced or deleted)",
            {"share_token": share_token},
        )
    return await open_meeting(conn, who, meeting_id, for_update=True)


async def _admit(conn: AsyncConnection, who: Who, row: RowMapping) -> Opened:
    participant = await _participant_of(conn, who, row["id"])
    relation = SELF if row["owner_id"] == who.user_id else STRANGER
    if who.guest is None and relation != SELF:
        relation = await relation_between(conn, who.user_id, row["owner_id"])
    viewer = None if who.guest is not None else who.viewer
    vis = visibility_view(row)
    if not can_open(viewer, relation, vis, participating=participant is not None):
        raise not_found("meeting", row["id"])
    return Opened(row, participant, relation == SELF)


async def _participant_of(conn: AsyncConnection, who: Who, meeting_id: str) -> RowMapping | None:
    if who.guest is None:
        return await store.participant_of_user(conn, meeting_id, who.user_id)
    if who.guest.participant_id is None:
        return None
    return await store.get_participant(conn, who.guest.participant_id)


def outside_scope() -> ApiError:
    """Build the error for a guest reaching past its own poll or its own row."""
    return ApiError(
        ErrorCode.FORBIDDEN, "a guest may act only in its own poll, on its own participant"
    )
