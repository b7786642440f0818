"""Friendship rows: one per unordered pair, ``user_low < user_high``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, false, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import friendships, users


def pair(a: str, b: str) -> tuple[str, str]:
    """Return the pair's key: the two ids in order."""
    return (a, b) if a < b else (b, a)


def peer_of(row: Any, user_id: str) -> str:
    """Return the other party of a friendship row."""
    return str(row["user_high"] if row["user_low"] == user_id else row["user_low"])


def blocks(row: Any, user_id: str) -> bool:
    """Tell whether ``user_id`` holds a block on this pair."""
    return bool(row["block_low"] if row["user_low"] == user_id else row["block_high"])


async def get_pair(
    conn: AsyncConnection, a: str, b: str, *, for_update: bool = False
) -> RowMapping | None:
    """Return the pair's row, or None."""
    low, high = pair(a, b)
    stmt = select(friendships).where(friendships.c.user_low == low, friendships.c.user_high == high)
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def get_friendship(
    conn: AsyncConnection, user_id: str, ident: str, *, for_update: bool = False
) -> RowMapping | None:
    """Return the friendship ``ident`` when ``user_id`` is one of its parties, else None."""
    stmt = select(friendships).where(
        friendships.c.id == ident,
        or_(friendships.c.user_low == user_id, friendships.c.user_high == user_id),
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def list_of(conn: AsyncConnection, user_id: str, status: str) -> list[RowMapping]:
    """Return the user's friendships of ``status``, oldest first."""
    stmt = (
        select(friendships)
        .where(
            friendships.c.status == status,
            or_(friendships.c.user_low == user_id, friendships.c.user_high == user_id),
        )
        .order_by(friendships.c.created_at, friendships.c.id)
    )
    return list((await conn.execute(stmt)).mappings())


async def insert_friendship(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert a friendship row."""
    await conn.execute(insert(friendships).values(**values))


async def update_friendship(conn: AsyncConnection, ident: str, values: dict[str, Any]) -> None:
    """Write changed fields and bump the version."""
    await conn.execute(
        update(friendships)
        .where(friendships.c.id == ident)
        .values(**values, version=friendships.c.version + 1)
    )


async def delete_friendship(conn: AsyncConnection, ident: str) -> None:
    """Delete a friendship row."""
    await conn.execute(delete(friendships).where(friendships.c.id == ident))


async def list_requests(conn: AsyncConnection, user_id: str, direction: str) -> list[RowMapping]:
    """Return pending requests received by the user, or sent and not hidden from them.

    Oldest first; a request asked by email is hidden from its requester.
    """
    if direction == "received":
        mine = friendships.c.addressee_id == user_id
    else:
        mine = (friendships.c.requester_id == user_id) & (friendships.c.via_email == false())
    stmt = (
        select(friendships)
        .where(friendships.c.status == "pending", mine)
        .order_by(friendships.c.created_at, friendships.c.id)
    )
    return list((await conn.execute(stmt)).mappings())


async def count_sent(conn: AsyncConnection, user_id: str, *, via_email: bool) -> int:
    """Count the user's pending sent requests, asked by email or not."""
    stmt = select(func.count()).where(
        friendships.c.requester_id == user_id,
        friendships.c.status == "pending",
        friendships.c.via_email == via_email,
    )
    return int((await conn.execute(stmt)).scalar_one())


async def user_id_by_friend_code(conn: AsyncConnection, code: str) -> str | None:
    """Return the id of the user with this friend code, or None."""
    stmt = select(users.c.id).where(users.c.friend_code == code)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def user_id_by_email(conn: AsyncConnection, email: str) -> str | None:
    """Return the id of a user whose stored email is ``email`` (lower case), or None."""
    stmt = select(users.c.id).where(func.lower(users.c.email) == email).order_by(users.c.id)
    return (await conn.execute(stmt.limit(1))).scalar_one_or_none()


async def get_profiles(conn: AsyncConnection, user_ids: Iterable[str]) -> dict[str, RowMapping]:
    """Return the public profile fields of the users, by id (one query)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    stmt = select(users.c.id, users.c.display_name, users.c.avatar_url).where(
        users.c.id.in_(wanted)
    )
    return {row["id"]: row for row in (await conn.execute(stmt)).mappings()}


async def get_pairs(conn: AsyncConnection, user_id: str, others: list[str]) -> list[RowMapping]:
    """Return the rows of the pairs of ``user_id`` with each of ``others``."""
    keys = [pair(user_id, other) for other in others]
    stmt = select(friendships).where(
        tuple_(friendships.c.user_low, friendships.c.user_high).in_(keys)
    )
    return list((await conn.execute(stmt)).mappings())
