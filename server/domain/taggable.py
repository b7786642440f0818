"""What tags attach to (timers, todos), and the rules every such link follows."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.context import Mutation
from server.domain.editing import require_all_owned, write_row
from server.domain.schedules.views import schedule_view
from server.domain.timers.logic import timer_change
from server.domain.todos.logic import todo_view
from server.realtime.topics import user_topic
from server.storage.tables import schedules, tags, timers, todos


@dataclass(frozen=True)
class Taggable:
    """A kind of resource that carries ``tag_ids``: its table, update event and view."""

    table: Table
    event: str
    view: Callable[[Any, int], dict[str, Any]]


TAGGABLE: dict[str, Taggable] = {
    "timer": Taggable(timers, "timer.updated", timer_change),
    "todo": Taggable(todos, "todo.updated", lambda row, _now: todo_view(row)),
    "schedule": Taggable(schedules, "schedule.updated", lambda row, _now: schedule_view(row)),
}


async def require_own_tags(conn: AsyncConnection, owner_id: str, tag_ids: Sequence[str]) -> None:
    """Refuse tags that are not the owner's (another user's tag is not_found too)."""
    await require_all_owned(conn, tags, "tag", owner_id, tag_ids)


async def do_untag(
    m: Mutation,
    links: Sequence[tuple[str, str]],
    tag_ids: Collection[str],
    gone: Mapping[str, Collection[str]] | None = None,
) -> int:
    """Take ``tag_ids`` off each linked resource, emitting its update; return how many changed.

    The caller drops the link rows; this rewrites each resource's own ``tag_ids``.
    A timer linked to something in ``gone`` (link name -> ids being deleted) loses
    that link in the same write, so it gets one update, not two.
    """
    changed = 0
    for kind in sorted({kind for kind, _ in links}):
        spec = TAGGABLE[kind]
        ids = [ident for k, ident in links if k == kind]
        rows = (await m.conn.execute(select(spec.table).where(spec.table.c.id.in_(ids)))).mappings()
        for row in rows.all():
            kept = [t for t in orjson.loads(row["tag_ids"]) if t not in tag_ids]
            changes: dict[str, Any] = {"tag_ids": orjson.dumps(kept).decode()}
            if kind == "timer":
                for link, deleted in (gone or {}).items():
                    if row[link] in deleted:
                        changes[link] = None
            updated = await write_row(m, spec.table, row, changes)
            m.emit(user_topic(row["owner_id"]), spec.event, spec.view(updated, m.now))
            changed += 1
    return changed
