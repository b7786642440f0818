"""Tree rules: a parent is an own todo of the same group, and no todo is its own ancestor."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.errors import ErrorCode
from server.errors import ApiError, not_found, validation_error
from server.storage.rows import get_owned
from server.storage.tables import todos
from server.storage.todos import ancestor_ids, child_ids


async def require_parent(
    conn: AsyncConnection, owner_id: str, todo_id: str | None, parent_id: str, group_id: str
) -> RowMapping:
    """Refuse a parent that is the todo itself, not the owner's, in another group, or below it."""
    if parent_id == todo_id:
        raise validation_error("a todo cannot be its own parent", field="parent_id")
    parent = await get_owned(conn, todos, owner_id, parent_id)
    if parent is None:
        raise not_found("todo", parent_id)
    if parent["tag_group_id"] != group_id:
        raise ApiError(
            ErrorCode.GROUP_MISMATCH,
            "a todo's parent must be in the same tag group",
            {
                "parent_id": parent_id,
                "parent_group_id": parent["tag_group_id"],
                "group_id": group_id,
            },
        )
    if todo_id is not None:
        path = await ancestor_ids(conn, parent_id)
        if todo_id in path:
            # The path runs from the parent up to the todo: the loop the change would close.
            loop = path[: path.index(todo_id) + 1]
            raise ApiError(
                ErrorCode.CYCLE_DETECTED,
                "the parent is a descendant of the todo",
                {"parent_id": parent_id, "path": loop},
            )
    return parent


async def require_movable(conn: AsyncConnection, todo_id: str, group_id: str) -> None:
    """Refuse moving a todo with children to another group (they would be left behind)."""
    children = await child_ids(conn, todo_id)
    if children:
        raise ApiError(
            ErrorCode.GROUP_MISMATCH,
            "a todo with children cannot change its tag group",
            {"group_id": group_id, "child_ids": children[:50], "children": len(children)},
        )
