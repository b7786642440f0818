"""What a timer links to (todos, tags, schedules), checked and kept in step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Table, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.commands.tags import MAX_TAGS
from server.domain.context import Mutation
from server.domain.editing import require_owned, write_row
from server.domain.taggable import require_own_tags
from server.domain.timers.logic import timer_change
from server.errors import validation_error
from server.realtime.topics import user_topic
from server.storage.rows import get_owned
from server.storage.tables import schedules, timers, todos


@dataclass(frozen=True)
class Links:
    """A timer's checked links, completed: a generated schedule brings its todo, and back."""

    schedule_id: str | None
    todo_id: str | None
    inherited: list[str]


async def require_links(
    conn: AsyncConnection,
    owner_id: str,
    *,
    schedule_id: str | None,
    todo_id: str | None,
    tag_ids: Sequence[str],
) -> Links:
    """Refuse links to resources the owner does not have; complete todo <-> schedule links."""
    await require_own_tags(conn, owner_id, tag_ids)
    schedule = await _owned(conn, schedules, "schedule", owner_id, schedule_id)
    todo = await _owned(conn, todos, "todo", owner_id, todo_id)
    source = schedule["source_todo_id"] if schedule is not None else None
    if source is not None and todo is not None and source != todo["id"]:
        raise validation_error(
            "the schedule was generated from another todo", field="todo_id", source_todo_id=source
        )
    if source is not None and todo is None:
        todo = await get_owned(conn, todos, owner_id, source)
    if schedule is None and todo is not None and todo["deadline_schedule_id"]:
        schedule = await get_owned(conn, schedules, owner_id, todo["deadline_schedule_id"])
    inherited = [
        t for row in (schedule, todo) if row is not None for t in orjson.loads(row["tag_ids"])
    ]
    return Links(
        schedule_id=None if schedule is None else schedule["id"],
        todo_id=None if todo is None else todo["id"],
        inherited=inherited,
    )


def with_inherited(tag_ids: Sequence[str], links: Links) -> list[str]:
    """Return ``tag_ids`` followed by the linked schedule's and todo's tags it lacks."""
    out = list(tag_ids)
    for tag in links.inherited:
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise validation_error(
            f"with the inherited tags the timer would carry {len(out)} tags; at most {MAX_TAGS}",
            field="inherit_tags",
        )
    return out


async def _owned(
    conn: AsyncConnection, table: Table, kind: str, owner_id: str, ident: str | None
) -> RowMapping | None:
    if ident is None:
        return None
    return await require_owned(conn, table, kind, owner_id, ident)


async def do_unlink_timers(m: Mutation, links: Mapping[str, Sequence[str]]) -> int:
    """Clear the links (``todo_id``, ``schedule_id``) pointing at the given ids, one write
    and one ``timer.updated`` per timer however many of its links go; return how many."""
    clauses = [timers.c[link].in_(list(ids)) for link, ids in links.items() if ids]
    if not clauses:
        return 0
    stmt = select(timers).where(or_(*clauses)).order_by(timers.c.id)
    rows = (await m.conn.execute(stmt)).mappings().all()
    for row in rows:
        changes = {link: None for link, ids in links.items() if row[link] in ids}
        updated = await write_row(m, timers, row, changes)
        m.emit(user_topic(row["owner_id"]), "timer.updated", timer_change(updated, m.now))
    return len(rows)
