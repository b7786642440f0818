"""User rows."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.rows import rows_one_of
from server.storage.tables import users

# No 0/O or 1/I/L: friend codes are read aloud and typed by hand.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_friend_code() -> str:
    """Return a random 10-character friend code (about 49 bits)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


async def insert_user(conn: AsyncConnection, profile: dict[str, Any], now: int) -> bool:
    """Create the user unless it exists; True when this call created it."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(users)
        .values(**profile, friend_code=new_friend_code(), created_at=now, updated_at=now, version=1)
        .on_conflict_do_nothing(index_elements=[users.c.id])
    )
    return bool((await conn.execute(stmt)).rowcount)


async def get_user(conn: AsyncConnection, user_id: str) -> RowMapping | None:
    """Return the user row, or None."""
    return (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()


_USERS = select(users)


async def get_users(conn: AsyncConnection, user_ids: list[str]) -> dict[str, Any]:
    """Return the rows of those of ``user_ids`` that exist, by id."""
    rows = await rows_one_of(conn, _USERS, users.c.id, user_ids)
    return {row["id"]: row for row in rows}


async def update_user(conn: AsyncConnection, user_id: str, values: dict[str, Any]) -> None:
    """Write changed profile fields and bump the version."""
    await conn.execute(
        update(users).where(users.c.id == user_id).values(**values, version=users.c.version + 1)
    )
