"""Who may subscribe to a topic, and from where a subscription may resume."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.context import Services, Who
from server.domain.meetings.access import open_meeting
from server.errors import ApiError
from server.realtime.topics import topic_meeting, topic_owner
from server.storage.events import event_time
from server.storage.friendships import get_pair


@dataclass(frozen=True)
class Admission:
    """A subscription let in: the cursor to resume from, and whether the client must reset."""

    since: int | None
    reset: bool = False


async def admit(services: Services, who: Who, topic: str, since: int | None) -> Admission | None:
    """Let ``who`` subscribe to ``topic`` from ``since``, or refuse (None).

    A user's own topic is always open. Another user's topic is open to their
    friends (blocked pairs and strangers are refused); a guest has none. A
    friend's cursor from before the friendship began is not replayed: what
    happened then was never theirs to see, so the topic starts at its head and
    is reported reset. A poll's topic is open to whoever may open the poll.
    """
    meeting_id = topic_meeting(topic)
    if meeting_id is not None:
        return await _admit_meeting(services, who, meeting_id, since)
    if who.guest is not None:
        return None
    user_id = who.user_id
    owner = topic_owner(topic)
    if owner == user_id:
        return Admission(since)
    if owner is None:
        return None
    async with services.db.read() as conn:
        pair = await get_pair(conn, user_id, owner)
        if pair is None or pair["status"] != "accepted":
            return None
        if since is None:
            return Admission(None)
        at = await event_time(conn, topic, since)
    if at is None or at < pair["accepted_at"]:
        return Admission(None, reset=True)
    return Admission(since)


async def _admit_meeting(
    services: Services, who: Who, meeting_id: str, since: int | None
) -> Admission | None:
    async with services.db.read() as conn:
        try:
            await open_meeting(conn, who, meeting_id)
        except ApiError:
            return None
    return Admission(since)
