"""The tag link index: which timer, todo or schedule carries which tag."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from server.storage.tables import tag_links


async def set_tag_links(
    conn: AsyncConnection, kind: str, resource_id: str, owner_id: str, tag_ids: Sequence[str]
) -> None:
    """Make ``tag_ids`` the resource's links, replacing the ones it had."""
    await delete_tag_links(conn, kind, [resource_id])
    await insert_tag_links(conn, kind, resource_id, owner_id, tag_ids)


async def insert_tag_links(
    conn: AsyncConnection, kind: str, resource_id: str, owner_id: str, tag_ids: Sequence[str]
) -> None:
    """Link a new resource to ``tag_ids``."""
    if tag_ids:
        rows = [
            {"tag_id": t, "kind": kind, "resource_id": resource_id, "owner_id": owner_id}
            for t in tag_ids
        ]
        await conn.execute(insert(tag_links), rows)


async def delete_tag_links(conn: AsyncConnection, kind: str, resource_ids: Sequence[str]) -> None:
    """Drop every link of these resources."""
    if resource_ids:
        stmt = delete(tag_links).where(
            tag_links.c.kind == kind, tag_links.c.resource_id.in_(list(resource_ids))
        )
        await conn.execute(stmt)


async def linked_resources(conn: AsyncConnection, tag_ids: Sequence[str]) -> list[tuple[str, str]]:
    """Return the distinct ``(kind, resource_id)`` carrying any of ``tag_ids``."""
    if not tag_ids:
        return []
    stmt = (
        select(tag_links.c.kind, tag_links.c.resource_id)
        .where(tag_links.c.tag_id.in_(list(tag_ids)))
        .distinct()
        .order_by(tag_links.c.kind, tag_links.c.resource_id)
    )
    return [(row.kind, row.resource_id) for row in await conn.execute(stmt)]


async def drop_tags(conn: AsyncConnection, tag_ids: Sequence[str]) -> None:
    """Drop every link to these tags."""
    if tag_ids:
        await conn.execute(delete(tag_links).where(tag_links.c.tag_id.in_(list(tag_ids))))


def having_all_tags(kind: str, tag_ids: Sequence[str]) -> Select[tuple[str]]:
    """Select the ids of resources of ``kind`` that carry every one of ``tag_ids``."""
    return (
        select(tag_links.c.resource_id)
        .where(and_(tag_links.c.kind == kind, tag_links.c.tag_id.in_(list(tag_ids))))
        .group_by(tag_links.c.resource_id)
        .having(func.count() == len(tag_ids))
    )
