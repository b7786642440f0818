"""What a timer links to (todos, tags, schedules), checked and kept in step."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.context import Mutation
from server.domain.editing import write_row
from server.domain.taggable import require_own_tags
from server.domain.timers.logic import timer_view
from server.errors import not_found
from server.realtime.topics import user_topic
from server.storage.rows import get_owned
from server.storage.tables import timers, todos


async def require_links(
    conn: AsyncConnection,
    owner_id: str,
    *,
    schedule_id: str | None,
    todo_id: str | None,
    tag_ids: Sequence[str],
) -> RowMapping | None:
    """Refuse links to resources the owner does not have; return the linked todo's row.

    No schedule can belong to anyone until the schedules domain lands, so any
    schedule id is answered as another user's would be: not_found.
    """
    if schedule_id is not None:
        raise not_found("schedule", schedule_id)
    todo = None
    if todo_id is not None:
        todo = await get_owned(conn, todos, owner_id, todo_id)
        if todo is None:
            raise not_found("todo", todo_id)
    await require_own_tags(conn, owner_id, tag_ids)
    return todo


def with_inherited(tag_ids: Sequence[str], todo: RowMapping | None) -> list[str]:
    """Return ``tag_ids`` followed by the linked todo's tags it lacks."""
    inherited = orjson.loads(todo["tag_ids"]) if todo is not None else []
    return [*tag_ids, *(t for t in inherited if t not in tag_ids)]


async def do_unlink_todos(m: Mutation, todo_ids: Sequence[str]) -> int:
    """Clear ``todo_id`` on the timers linked to these todos, emitting their updates."""
    if not todo_ids:
        return 0
    stmt = select(timers).where(timers.c.todo_id.in_(list(todo_ids))).order_by(timers.c.id)
    rows = (await m.conn.execute(stmt)).mappings().all()
    for row in rows:
        updated = await write_row(m, timers, row, {"todo_id": None})
        m.emit(user_topic(row["owner_id"]), "timer.updated", timer_view(updated, m.now))
    return len(rows)
