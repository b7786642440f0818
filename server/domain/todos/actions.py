"""Todo actions: each one transaction with its events."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from schema.commands.todos import TodoCreateData, TodoUpdateData
from server.domain import deadlines
from server.domain.context import Actor, Mutation, Services, mutate, retrying
from server.domain.editing import load_owned, require_owned, write_row
from server.domain.paging import parse_instant
from server.domain.taggable import require_own_tags
from server.domain.todos.logic import todo_view
from server.domain.todos.tree import require_movable, require_parent
from server.domain.visibility.fanout import deletion
from server.realtime.topics import user_topic
from server.storage import todos as store
from server.storage.rows import delete_rows, insert_row
from server.storage.tables import tag_groups, todos
from server.storage.tag_links import delete_tag_links, insert_tag_links, set_tag_links


@retrying
async def do_create_todo(services: Services, actor: Actor, data: TodoCreateData) -> dict[str, Any]:
    """Create a todo in one of the caller's groups, as a root or under a todo of that group."""
    async with mutate(services, actor) as m:
        await _require_group(m, data.tag_group_id)
        if data.parent_id is not None:
            await require_parent(m.conn, actor.user_id, None, data.parent_id, data.tag_group_id)
        await require_own_tags(m.conn, actor.user_id, data.tag_ids)
        values = {
            **data.model_dump(exclude={"deadline", "tag_ids"}),
            "id": str(uuid.uuid4()),
            "owner_id": actor.user_id,
            "deadline": parse_instant(data.deadline, "deadline"),
            "tag_ids": orjson.dumps(data.tag_ids).decode(),
            "created_at": m.now,
            "updated_at": m.now,
            "version": 1,
            "deadline_schedule_id": None,
        }
        values["sort_key"] = _sort_key(values)
        values["deadline_schedule_id"] = await deadlines.do_sync_from_todo(m, values)
        await insert_row(m.conn, todos, values)
        await insert_tag_links(m.conn, "todo", values["id"], actor.user_id, data.tag_ids)
        view = todo_view(values)
        m.emit(user_topic(actor.user_id), "todo.created", view)
        return m.done(view)


@retrying
async def do_update_todo(services: Services, actor: Actor, data: TodoUpdateData) -> dict[str, Any]:
    """Change a todo; a new parent or group is checked against the tree's rules."""
    changes = data.changes("id", "if_version")
    async with mutate(services, actor) as m:
        row = await load_owned(m, todos, "todo", data.id, data.if_version)
        await _require_tree(m, row, changes)
        if "tag_ids" in changes:
            await require_own_tags(m.conn, actor.user_id, changes["tag_ids"])
            await set_tag_links(m.conn, "todo", row["id"], actor.user_id, changes["tag_ids"])
            changes["tag_ids"] = orjson.dumps(changes["tag_ids"]).decode()
        if "deadline" in changes:
            changes["deadline"] = parse_instant(changes["deadline"], "deadline")
        if "deadline" in changes or "status" in changes:
            changes["sort_key"] = _sort_key({**row, **changes})
        if {"deadline", "title", "tag_ids"} & set(changes):
            linked = await deadlines.do_sync_from_todo(m, {**row, **changes})
            if linked != row["deadline_schedule_id"]:
                changes["deadline_schedule_id"] = linked
        if not changes:
            return m.done(todo_view(row))
        view = todo_view(await write_row(m, todos, row, changes))
        m.emit(user_topic(actor.user_id), "todo.updated", view)
        return m.done(view)


@retrying
async def do_delete_todo(
    services: Services, actor: Actor, todo_id: str, if_version: int | None
) -> dict[str, Any]:
    """Delete a todo: its children become roots, its timers lose the link."""
    async with mutate(services, actor) as m:
        row = await load_owned(m, todos, "todo", todo_id, if_version)
        children = await store.rows_by_id(m.conn, await store.child_ids(m.conn, todo_id))
        for child in children:
            root = await write_row(m, todos, child, {"parent_id": None})
            m.emit(user_topic(actor.user_id), "todo.updated", todo_view(root))
        unlinked = await deadlines.do_drop_for_todos(m, [todo_id])
        await delete_tag_links(m.conn, "todo", [todo_id])
        await delete_rows(m.conn, todos, [todo_id])
        m.emit(user_topic(actor.user_id), "todo.deleted", {"id": todo_id}, audience=deletion(row))
        reply = {
            "id": todo_id,
            "promoted": [c["id"] for c in children],
            "unlinked_timers": unlinked,
        }
        return m.done(reply)


async def _require_tree(m: Mutation, row: RowMapping, changes: dict[str, Any]) -> None:
    group_id = changes.get("tag_group_id", row["tag_group_id"])
    moved = group_id != row["tag_group_id"]
    if moved:
        await _require_group(m, group_id)
        await require_movable(m.conn, row["id"], group_id)
    parent_id = changes.get("parent_id", row["parent_id"])
    if parent_id is not None and ("parent_id" in changes or moved):
        await require_parent(m.conn, m.actor.user_id, row["id"], parent_id, group_id)


async def _require_group(m: Mutation, group_id: str) -> None:
    await require_owned(m.conn, tag_groups, "tag group", m.actor.user_id, group_id)


def _sort_key(row: Mapping[str, Any]) -> str:
    return store.sort_key(row["status"], row["deadline"], row["created_at"], row["id"])
