"""Tag group and tag rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.tables import tag_groups, tags


async def list_groups(conn: AsyncConnection, owner_id: str) -> Sequence[RowMapping]:
    """Return the owner's tag groups, oldest first."""
    stmt = (
        select(tag_groups)
        .where(tag_groups.c.owner_id == owner_id)
        .order_by(tag_groups.c.created_at, tag_groups.c.id)
    )
    return (await conn.execute(stmt)).mappings().all()


async def count_groups(conn: AsyncConnection, owner_id: str) -> int:
    """Return how many tag groups the owner has."""
    stmt = select(func.count()).where(tag_groups.c.owner_id == owner_id)
    return int((await conn.execute(stmt)).scalar_one())


async def list_tags(
    conn: AsyncConnection, owner_id: str, group_id: str | None = None
) -> Sequence[RowMapping]:
    """Return the owner's tags (of one group, when given), oldest first."""
    stmt = select(tags).where(tags.c.owner_id == owner_id)
    if group_id is not None:
        stmt = stmt.where(tags.c.group_id == group_id)
    stmt = stmt.order_by(tags.c.created_at, tags.c.id)
    return (await conn.execute(stmt)).mappings().all()


async def tag_ids_of_group(conn: AsyncConnection, group_id: str) -> list[str]:
    """Return the ids of a group's tags."""
    return await tag_ids_of_groups(conn, [group_id])


async def find_tag_named(conn: AsyncConnection, group_id: str, name_key: str) -> str | None:
    """Return the id of the group's tag with this case-folded name, or None."""
    stmt = select(tags.c.id).where(tags.c.group_id == group_id, tags.c.name_key == name_key)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def tag_ids_of_groups(conn: AsyncConnection, group_ids: Sequence[str]) -> list[str]:
    """Return the ids of every tag in these groups."""
    stmt = select(tags.c.id).where(tags.c.group_id.in_(list(group_ids))).order_by(tags.c.id)
    return [row.id for row in await conn.execute(stmt)]
