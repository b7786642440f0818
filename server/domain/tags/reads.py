"""Tag and tag group reads shared by commands and REST."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.engine import RowMapping

from server.domain.context import Services
from server.domain.editing import require_owned
from server.domain.tags.logic import group_view, tag_view
from server.storage import tags as store
from server.storage.tables import tag_groups, tags


async def get_group_view(services: Services, owner_id: str, group_id: str) -> dict[str, Any]:
    """Return one of the owner's groups with its tags."""
    async with services.db.read() as conn:
        row = await require_owned(conn, tag_groups, "tag group", owner_id, group_id)
        return group_view(row, await store.list_tags(conn, owner_id, group_id))


async def list_group_views(services: Services, owner_id: str) -> dict[str, Any]:
    """Return every group of the owner with its tags (two queries, whatever the count)."""
    async with services.db.read() as conn:
        groups = await store.list_groups(conn, owner_id)
        tag_rows = await store.list_tags(conn, owner_id)
    by_group: dict[str, list[RowMapping]] = defaultdict(list)
    for tag in tag_rows:
        by_group[tag["group_id"]].append(tag)
    return {"items": [group_view(g, by_group[g["id"]]) for g in groups], "next_cursor": None}


async def get_tag_view(services: Services, owner_id: str, tag_id: str) -> dict[str, Any]:
    """Return one of the owner's tags."""
    async with services.db.read() as conn:
        return tag_view(await require_owned(conn, tags, "tag", owner_id, tag_id))


async def list_tag_views(services: Services, owner_id: str, group_id: str | None) -> dict[str, Any]:
    """Return the owner's tags, of one group when given (another's group is not_found)."""
    async with services.db.read() as conn:
        if group_id is not None:
            await require_owned(conn, tag_groups, "tag group", owner_id, group_id)
        rows = await store.list_tags(conn, owner_id, group_id)
    return {"items": [tag_view(r) for r in rows], "next_cursor": None}
