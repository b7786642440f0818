"""What a poll's open pages show of each other: a connection and its participant, if any."""

from __future__ import annotations

from typing import Any

from server.domain.context import Services, Who
from server.storage import meetings as store


async def viewer_entry(
    services: Services, who: Who, meeting_id: str, connection_id: str
) -> dict[str, Any]:
    """Return how a connection shows on a poll's topic: its id and participant (or null).

    Nothing else about the viewer (no user id, no name) leaves: a page names a
    participant from its own list, and a viewer who has not joined is anonymous.
    """
    return {
        "connection": connection_id,
        "participant_id": await _participant_id(services, who, meeting_id),
    }


async def _participant_id(services: Services, who: Who, meeting_id: str) -> str | None:
    if who.guest is not None:
        return who.guest.participant_id if who.guest.meeting_id == meeting_id else None
    async with services.db.read() as conn:
        row = await store.participant_of_user(conn, meeting_id, who.user_id)
    return None if row is None else str(row["id"])
