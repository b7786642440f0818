"""A todo's deadline and the schedule generated from it, kept in step both ways.

Setting a deadline creates a one-hour schedule at it (in the user's zone, with
the todo's title and tags, ``source_todo_id`` the todo); moving the deadline
moves it, clearing it deletes it. Moving that schedule's start moves the
deadline back; deleting the schedule clears the deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from server.domain.context import Mutation
from server.domain.editing import write_row
from server.domain.schedules.series import whole_seconds
from server.domain.schedules.writes import (
    delete_series,
    edit_series,
    insert_series,
    load_series,
    user_zone,
)
from server.domain.timers.links import do_unlink_timers
from server.domain.todos.logic import todo_view
from server.realtime.topics import user_topic
from server.storage import schedules as schedule_store
from server.storage.rows import get_owned
from server.storage.tables import todos
from server.storage.todos import sort_key

DEADLINE_SCHEDULE_MS = 3_600_000


async def do_sync_from_todo(m: Mutation, todo: Mapping[Any, Any]) -> str | None:
    """Make the todo's generated schedule match its deadline; return the schedule's id."""
    current = todo.get("deadline_schedule_id")
    row = await load_series(m, current) if current else None
    if todo["deadline"] is None:
        if row is not None:
            await delete_series(m, row)
        return None
    start = whole_seconds(todo["deadline"])
    wanted = {"title": todo["title"], "tag_ids": orjson.loads(todo["tag_ids"])}
    if row is None:
        fields = {
            **wanted,
            "start_at": start,
            "end_at": start + DEADLINE_SCHEDULE_MS,
            "timezone": await user_zone(m),
            "source_todo_id": todo["id"],
        }
        return str((await insert_series(m, fields))["id"])
    changes = {k: v for k, v in wanted.items() if _stored(row, k) != v}
    if row["start_at"] != start:
        changes.update(start_at=start, end_at=start + row["end_at"] - row["start_at"])
    if changes:
        await edit_series(m, row, changes)
    return str(row["id"])


async def do_follow_schedule(m: Mutation, schedule: Mapping[Any, Any]) -> None:
    """Move the source todo's deadline to the generated schedule's new start."""
    await _set_deadline(m, schedule, schedule["start_at"], schedule["id"])


async def do_forget_schedule(m: Mutation, schedule: Mapping[Any, Any]) -> None:
    """Clear the source todo's deadline: its generated schedule was deleted."""
    await _set_deadline(m, schedule, None, None)


async def generated_ids(m: Mutation, todo_ids: Sequence[str]) -> list[str]:
    """Return the ids of the schedules generated from these todos."""
    return [row["id"] for row in await schedule_store.series_from_todos(m.conn, todo_ids)]


async def do_drop_for_todos(m: Mutation, todo_ids: Sequence[str]) -> int:
    """For todos being deleted: unlink their timers (one write each, whether linked to
    the todo, its schedule or both) and delete their generated schedules.

    Return how many timers were unlinked.
    """
    rows = await schedule_store.series_from_todos(m.conn, todo_ids)
    links = {"todo_id": todo_ids, "schedule_id": [row["id"] for row in rows]}
    unlinked = await do_unlink_timers(m, links)
    for row in rows:
        await delete_series(m, row)
    return unlinked


async def _set_deadline(
    m: Mutation, schedule: Mapping[Any, Any], deadline: int | None, schedule_id: str | None
) -> None:
    source = schedule["source_todo_id"]
    if source is None:
        return
    todo = await get_owned(m.conn, todos, schedule["owner_id"], source, for_update=True)
    if todo is None or (todo["deadline"], todo["deadline_schedule_id"]) == (deadline, schedule_id):
        return
    key = sort_key(todo["status"], deadline, todo["created_at"], todo["id"])
    changes = {"deadline": deadline, "deadline_schedule_id": schedule_id, "sort_key": key}
    updated = await write_row(m, todos, todo, changes)
    m.emit(user_topic(todo["owner_id"]), "todo.updated", todo_view(updated))


def _stored(row: Mapping[Any, Any], key: str) -> Any:
    return orjson.loads(row["tag_ids"]) if key == "tag_ids" else row[key]
