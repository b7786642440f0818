"""Friendship reads shared by commands, REST and bootstrap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.context import Services
from server.domain.friends.logic import friendship_view
from server.storage import friendships as store
from server.storage.friendships import blocks, peer_of


async def list_friend_views(
    services: Services, user_id: str, status: str = "accepted"
) -> dict[str, Any]:
    """Return the user's friends, or with ``blocked`` the pairs the user blocks; oldest first."""
    async with services.db.read() as conn:
        rows = await store.list_of(conn, user_id, status)
        if status == "blocked":
            rows = [row for row in rows if blocks(row, user_id)]
        return {"items": await _views(conn, user_id, rows), "next_cursor": None}


async def list_request_views(services: Services, user_id: str, direction: str) -> dict[str, Any]:
    """Return the pending requests the user received, or sent; oldest first."""
    async with services.db.read() as conn:
        rows = await store.list_requests(conn, user_id, direction)
        return {"items": await _views(conn, user_id, rows), "next_cursor": None}


async def bootstrap_views(services: Services, user_id: str) -> dict[str, Any]:
    """Return the bootstrap's ``friends`` and ``friend_requests`` (received and sent)."""
    async with services.db.read() as conn:
        friends = await store.list_of(conn, user_id, "accepted")
        received = await store.list_requests(conn, user_id, "received")
        sent = await store.list_requests(conn, user_id, "sent")
        views = await _views(conn, user_id, [*friends, *received, *sent])
    cut, more = len(friends), len(friends) + len(received)
    return {
        "friends": views[:cut],
        "friend_requests": {"received": views[cut:more], "sent": views[more:]},
    }


async def _views(
    conn: AsyncConnection, user_id: str, rows: Sequence[RowMapping]
) -> list[dict[str, Any]]:
    """Build the views of ``rows`` with the other parties' profiles, read in one query."""
    profiles = await store.get_profiles(conn, (peer_of(row, user_id) for row in rows))
    return [friendship_view(row, user_id, profiles[peer_of(row, user_id)]) for row in rows]
