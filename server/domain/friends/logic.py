"""Pure friendship rules: the wire view, who sees a row, what a block or unblock changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.clock import iso_ms
from server.domain.visibility.policy import relation_of_status
from server.storage.friendships import blocks, peer_of

Row = Mapping[Any, Any]

CREATED = "friendship.created"
UPDATED = "friendship.updated"
DELETED = "friendship.deleted"


def public_profile(user: Row) -> dict[str, Any]:
    """Return what any user sees of another: id, display name, avatar."""
    return {
        "id": user["id"],
        "display_name": user["display_name"],
        "avatar_url": user["avatar_url"],
    }


def friendship_view(row: Row, me: str, friend_profile: Row) -> dict[str, Any]:
    """Build the wire form of a friendship as ``me`` sees it; ``friend`` is the other party."""
    return {
        "id": row["id"],
        "requester_id": row["requester_id"],
        "addressee_id": row["addressee_id"],
        "status": row["status"],
        "blocked_by": row["blocked_by"],
        "blocked_by_me": blocks(row, me),
        "friend": public_profile(friend_profile),
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def ended(row: Row, now: int) -> dict[str, Any]:
    """Return a deleted row as its last answer shows it: status ``none``, no blocks."""
    return {
        **row,
        "status": "none",
        "blocked_by": None,
        "block_low": False,
        "block_high": False,
        "updated_at": now,
        "version": row["version"] + 1,
    }


def hidden_from(row: Row | None, user: str) -> bool:
    """Tell whether ``user`` must not know of the row: their own request, asked by email.

    Such a request shows only to its addressee until they answer it; to its
    requester it is as if it did not exist (see ``actions.do_request_by_email``).
    """
    return (
        row is not None
        and bool(row["via_email"])
        and row["status"] == "pending"
        and row["requester_id"] == user
    )


def event_name(before: Row | None, after: Row | None, user: str) -> str | None:
    """Name the event ``user`` gets for a change of the pair's row from ``before`` to ``after``.

    Each party is told from what they knew: a row they first see is ``created``
    for them, one that leaves their sight is ``deleted``; None when they saw
    neither side.
    """
    saw = before is not None and not hidden_from(before, user)
    sees = after is not None and not hidden_from(after, user)
    if not (saw or sees):
        return None
    if not sees:
        return DELETED
    return UPDATED if saw else CREATED


def relation_of(row: Row | None) -> str:
    """Return how the pair stand to each other with this row (None: no row)."""
    return relation_of_status(None if row is None else row["status"])


def block_flag(row: Row, user: str) -> str:
    """Name the column that holds ``user``'s block on the pair."""
    return "block_low" if row["user_low"] == user else "block_high"


def block_changes(row: Row, user: str) -> dict[str, Any]:
    """Return what ``user`` blocking the pair writes; a first blocker still blocking stays first."""
    first = row["blocked_by"] if row["status"] == "blocked" and row["blocked_by"] else user
    return {
        block_flag(row, user): True,
        "status": "blocked",
        "blocked_by": first,
        "via_email": False,
    }


def unblock_changes(row: Row, user: str) -> dict[str, Any] | None:
    """Return what lifting ``user``'s block writes, or None when no block remains (the row goes)."""
    peer = peer_of(row, user)
    if not blocks(row, peer):
        return None
    return {block_flag(row, user): False, "blocked_by": peer}
