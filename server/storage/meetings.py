"""Meeting rows and their participants (cells included)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import meeting_participants, meetings

PARTICIPANTS = meeting_participants


async def get_meeting(
    conn: AsyncConnection, ident: str, *, for_update: bool = False
) -> RowMapping | None:
    """Return the meeting ``ident``, or None."""
    stmt = select(meetings).where(meetings.c.id == ident)
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def meeting_id_by_token(conn: AsyncConnection, share_token: str) -> str | None:
    """Return the id of the meeting whose link is ``share_token``, or None."""
    stmt = select(meetings.c.id).where(meetings.c.share_token == share_token)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def insert_meeting(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert a meeting."""
    await conn.execute(insert(meetings).values(**values))


async def delete_meeting(conn: AsyncConnection, ident: str) -> None:
    """Delete a meeting; its participants go with it (cascade)."""
    await conn.execute(delete(meetings).where(meetings.c.id == ident))


async def list_participants(conn: AsyncConnection, meeting_id: str) -> Sequence[RowMapping]:
    """Return the meeting's participants, in the order they joined."""
    stmt = (
        select(PARTICIPANTS)
        .where(PARTICIPANTS.c.meeting_id == meeting_id)
        .order_by(PARTICIPANTS.c.created_at, PARTICIPANTS.c.id)
    )
    return (await conn.execute(stmt)).mappings().all()


async def count_participants(conn: AsyncConnection, meeting_id: str) -> int:
    """Return how many participants the meeting has."""
    stmt = select(func.count()).where(PARTICIPANTS.c.meeting_id == meeting_id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_participant(
    conn: AsyncConnection, ident: str, *, for_update: bool = False
) -> RowMapping | None:
    """Return the participant ``ident``, or None."""
    stmt = select(PARTICIPANTS).where(PARTICIPANTS.c.id == ident)
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def participant_of_user(
    conn: AsyncConnection, meeting_id: str, user_id: str
) -> RowMapping | None:
    """Return the user's participant in the meeting, or None."""
    stmt = select(PARTICIPANTS).where(
        PARTICIPANTS.c.meeting_id == meeting_id, PARTICIPANTS.c.user_id == user_id
    )
    return (await conn.execute(stmt)).mappings().first()


async def participant_by_token(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """Return the guest participant whose token hashes to ``token_hash``, or None."""
    stmt = select(PARTICIPANTS).where(PARTICIPANTS.c.token_hash == token_hash)
    return (await conn.execute(stmt)).mappings().first()


async def insert_participant(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert a participant."""
    await conn.execute(insert(PARTICIPANTS).values(**values))


async def delete_participant(conn: AsyncConnection, ident: str) -> None:
    """Delete a participant (with their cells)."""
    await conn.execute(delete(PARTICIPANTS).where(PARTICIPANTS.c.id == ident))


async def list_meetings_of(
    conn: AsyncConnection, user_id: str, after: tuple[int, str] | None, limit: int
) -> Sequence[RowMapping]:
    """Return meetings the user owns or takes part in, newest first, after a keyset position."""
    joined = select(PARTICIPANTS.c.meeting_id).where(PARTICIPANTS.c.user_id == user_id)
    stmt = select(meetings).where(or_(meetings.c.owner_id == user_id, meetings.c.id.in_(joined)))
    if after is not None:
        stmt = stmt.where(tuple_(meetings.c.created_at, meetings.c.id) < after)
    order = (meetings.c.created_at.desc(), meetings.c.id.desc())
    return (await conn.execute(stmt.order_by(*order).limit(limit))).mappings().all()


async def participant_versions(conn: AsyncConnection, meeting_id: str) -> list[tuple[str, int]]:
    """Return ``(id, version)`` of the meeting's participants, in the order they joined."""
    stmt = (
        select(PARTICIPANTS.c.id, PARTICIPANTS.c.version)
        .where(PARTICIPANTS.c.meeting_id == meeting_id)
        .order_by(PARTICIPANTS.c.created_at, PARTICIPANTS.c.id)
    )
    return [(row.id, int(row.version)) for row in await conn.execute(stmt)]


async def participants_by_ids(conn: AsyncConnection, ids: Sequence[str]) -> Sequence[RowMapping]:
    """Return the participants with these ids (any order)."""
    if not ids:
        return []
    stmt = select(PARTICIPANTS).where(PARTICIPANTS.c.id.in_(list(ids)))
    return (await conn.execute(stmt)).mappings().all()
