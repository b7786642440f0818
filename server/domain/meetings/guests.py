"""Guests: admitting a connection to one poll by its link, or by a participant token."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from schema.errors import ErrorCode
from schema.frames import GuestAuth
from server.domain.context import GuestScope, Services
from server.domain.meetings.participants import token_hash
from server.domain.meetings.policy import can_open
from server.domain.meetings.views import participant_view
from server.domain.visibility.policy import STRANGER, visibility_view
from server.errors import ApiError
from server.storage import meetings as store


async def admit_guest(
    services: Services, auth: GuestAuth, connection_id: str
) -> tuple[GuestScope, dict[str, Any] | None]:
    """Admit a guest connection to its poll; return its scope and participant (or None).

    A participant token admits to its own poll whatever its level, even after the
    link was replaced (a returning guest keeps their way in); the link alone
    admits a watcher to a public poll. Anything else is refused.
    """
    async with services.db.read() as conn:
        if auth.participant_token is not None:
            return await _returning(conn, auth.meeting, auth.participant_token, connection_id)
        return GuestScope(await _watched(conn, auth.meeting), connection_id), None


async def _returning(
    conn: AsyncConnection, share_token: str, participant_token: str, connection_id: str
) -> tuple[GuestScope, dict[str, Any]]:
    row = await store.participant_by_token(conn, token_hash(participant_token))
    if row is None:
        raise ApiError(ErrorCode.UNAUTHORIZED, "unknown participant token")
    named = await store.meeting_id_by_token(conn, share_token)
    if named is not None and named != row["meeting_id"]:
        raise ApiError(ErrorCode.UNAUTHORIZED, "the participant token is for another poll")
    return GuestScope(row["meeting_id"], connection_id, row["id"]), participant_view(row)


async def _watched(conn: AsyncConnection, share_token: str) -> str:
    meeting_id = await store.meeting_id_by_token(conn, share_token)
    row = None if meeting_id is None else await store.get_meeting(conn, meeting_id)
    if row is None or not can_open(None, STRANGER, visibility_view(row), participating=False):
        # The same answer for an unknown link and a poll closed to guests.
        raise ApiError(
            ErrorCode.NOT_FOUND,
            "no poll open to guests has this link",
            {"share_token": share_token},
        )
    return str(row["id"])
