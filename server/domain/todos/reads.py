"""Todo reads shared by commands and REST."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from schema.commands.todos import TodoListData
from server.domain.context import Services
from server.domain.editing import require_all_owned, require_owned
from server.domain.paging import decode_cursor, encode_cursor, views_yielding
from server.domain.taggable import require_own_tags
from server.domain.todos.logic import todo_view
from server.domain.visibility.shared import (
    for_viewer,
    list_access,
    load_visible,
    refuse_private_filters,
    visible_rows,
)
from server.storage import todos as store
from server.storage.tables import tag_groups, todos

CURSOR_SHAPE = (str,)


async def get_todo_view(services: Services, viewer_id: str, todo_id: str) -> dict[str, Any]:
    """Return a todo the viewer owns or may see; anything else is not_found, missing or not."""
    async with services.db.read() as conn:
        row, access = await load_visible(conn, todos, "todo", viewer_id, todo_id)
    return for_viewer(todo_view(row), access)


async def list_todo_views(
    services: Services, viewer_id: str, query: TodoListData
) -> dict[str, Any]:
    """Return a page of todos: the matches and, with tags, their ancestors.

    Without ``owner_id`` (or with the viewer's own) the page is the viewer's
    todos. With another owner it holds only the todos the viewer may see (group
    and tag filters are refused there: they name the owner's private ids): SQL
    keeps the levels the viewer's relation might reach (none for a blocked pair:
    an empty page), then the predicate decides ``selected`` and
    ``allowed_emails`` rows, ancestors included. The cursor is the last row
    *scanned*, so such a page may hold fewer than ``limit`` items (even none)
    while ``next_cursor`` is set; a client pages on until ``next_cursor`` is null.
    """
    after = decode_cursor(query.cursor, CURSOR_SHAPE)[0] if query.cursor else None
    async with services.db.read() as conn:
        access = await list_access(conn, viewer_id, query.owner_id)
        refuse_private_filters(access, group_ids=query.group_ids, tag_ids=query.tag_ids)
        if not access.levels:
            return {"items": [], "next_cursor": None}
        await _require_filters(conn, access.owner_id, query)
        rows = await store.list_page(
            conn,
            access.owner_id,
            group_ids=query.group_ids,
            tag_ids=query.tag_ids,
            after=after,
            limit=query.limit + 1,
            levels=None if access.own else access.levels,
        )
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return {
        "items": await views_yielding(
            visible_rows(page, access),
            lambda row: {
                **for_viewer(todo_view(row), access),
                "include_reason": row["include_reason"],
            },
        ),
        "next_cursor": encode_cursor([page[-1]["sort_key"]]) if more else None,
    }


async def todo_stats(services: Services, owner_id: str, group_id: str | None) -> dict[str, Any]:
    """Count the owner's todos (of one group): in all, by status, by tag."""
    async with services.db.read() as conn:
        if group_id is not None:
            await require_owned(conn, tag_groups, "tag group", owner_id, group_id)
        by_status = await store.count_by_status(conn, owner_id, group_id)
        by_tag = await store.count_by_tag(conn, owner_id, group_id)
    return {
        "total_count": sum(by_status.values()),
        "by_status": {status: by_status.get(status, 0) for status in store.STATUS_RANK},
        "by_tag": [{"tag_id": t, "tag_name": name, "count": n} for t, name, n in by_tag],
    }


async def _require_filters(conn: AsyncConnection, owner_id: str, query: TodoListData) -> None:
    """Refuse filters naming another user's groups or tags, as any reference to them is."""
    if query.group_ids:
        await require_all_owned(conn, tag_groups, "tag group", owner_id, query.group_ids)
    if query.tag_ids:
        await require_own_tags(conn, owner_id, query.tag_ids)
