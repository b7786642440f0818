"""Who may subscribe to a topic, and from where a subscription may resume."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.context import Services
from server.realtime.topics import topic_owner
from server.storage.events import event_time
from server.storage.friendships import get_pair


@dataclass(frozen=True)
class Admission:
    """A subscription let in: the cursor to resume from, and whether the client must reset."""

    since: int | None
    reset: bool = False


async def admit(
    services: Services, user_id: str, topic: str, since: int | None
) -> Admission | None:
    """Let ``user_id`` subscribe to ``topic`` from ``since``, or refuse (None).

    A user's own topic is always open. Another user's topic is open to their
    friends (blocked pairs and strangers are refused; meeting topics open with
    meetings). A friend's cursor from before the friendship began is not
    replayed: what happened then was never theirs to see, so the topic starts
    at its head and is reported reset.
    """
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
