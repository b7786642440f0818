"""Tag group and tag actions: each one transaction with its events."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from schema.commands.tags import (
    MAX_GROUPS_PER_USER,
    MAX_TAGS_PER_GROUP,
    TagCreateData,
    TagGroupCreateData,
    TagGroupUpdateData,
    TagUpdateData,
)
from schema.errors import ErrorCode
from server.domain import deadlines
from server.domain.context import Actor, Mutation, Services, mutate, retrying
from server.domain.editing import load_owned, write_row
from server.domain.taggable import do_untag
from server.domain.tags.logic import (
    group_view,
    name_key,
    require_ratio_keys,
    tag_view,
    without_keys,
)
from server.domain.visibility.fanout import deletion
from server.errors import ApiError, validation_error
from server.realtime.topics import user_topic
from server.storage import tags as store
from server.storage import todos as todo_store
from server.storage.rows import delete_rows, get_owned, insert_row
from server.storage.tables import tag_groups, tags, todos
from server.storage.tag_links import delete_tag_links, drop_tags, linked_resources


@retrying
async def do_create_group(
    services: Services, actor: Actor, data: TagGroupCreateData
) -> dict[str, Any]:
    """Create a tag group (its goal ratios can only be empty: it has no tags yet)."""
    async with mutate(services, actor) as m:
        if await store.count_groups(m.conn, actor.user_id) >= MAX_GROUPS_PER_USER:
            raise validation_error(
                f"at most {MAX_GROUPS_PER_USER} tag groups per user", limit=MAX_GROUPS_PER_USER
            )
        require_ratio_keys(data.goal_ratios, ())
        values = {
            **_new(actor, m.now),
            **data.model_dump(exclude={"goal_ratios"}),
            "goal_ratios": orjson.dumps(data.goal_ratios).decode(),
        }
        await insert_row(m.conn, tag_groups, values)
        view = group_view(values, [])
        m.emit(user_topic(actor.user_id), "tag_group.created", view)
        return m.done(view)


@retrying
async def do_update_group(
    services: Services, actor: Actor, data: TagGroupUpdateData
) -> dict[str, Any]:
    """Change a tag group's name, color, description or goal ratios."""
    changes = data.changes("id", "if_version")
    async with mutate(services, actor) as m:
        row = await load_owned(m, tag_groups, "tag group", data.id, data.if_version)
        tag_rows = await store.list_tags(m.conn, actor.user_id, data.id)
        if "goal_ratios" in changes:
            require_ratio_keys(changes["goal_ratios"], [t["id"] for t in tag_rows])
            changes["goal_ratios"] = orjson.dumps(changes["goal_ratios"]).decode()
        if not changes:
            return m.done(group_view(row, tag_rows))
        view = group_view(await write_row(m, tag_groups, row, changes), tag_rows)
        m.emit(user_topic(actor.user_id), "tag_group.updated", view)
        return m.done(view)


@retrying
async def do_delete_group(
    services: Services, actor: Actor, group_id: str, if_version: int | None
) -> dict[str, Any]:
    """Delete a group, its tags (unlinked everywhere) and its todos (timers unlinked)."""
    async with mutate(services, actor) as m:
        await load_owned(m, tag_groups, "tag group", group_id, if_version)
        tag_ids = await store.tag_ids_of_group(m.conn, group_id)
        todo_ids = await todo_store.ids_in_group(m.conn, group_id)
        todo_audience = {
            row["id"]: deletion(row) for row in await todo_store.rows_by_id(m.conn, todo_ids)
        }
        generated = await deadlines.generated_ids(m, todo_ids)
        gone = {"todo_id": set(todo_ids), "schedule_id": set(generated)}
        links = [
            (kind, ident)
            for kind, ident in await linked_resources(m.conn, tag_ids)
            if ident not in gone["todo_id"] | gone["schedule_id"]
        ]
        unlinked = await do_untag(m, links, set(tag_ids), gone)
        unlinked += await deadlines.do_drop_for_todos(m, todo_ids)
        await drop_tags(m.conn, tag_ids)
        await delete_tag_links(m.conn, "todo", todo_ids)
        await delete_rows(m.conn, todos, todo_ids)
        await delete_rows(m.conn, tags, tag_ids)
        await delete_rows(m.conn, tag_groups, [group_id])
        topic = user_topic(actor.user_id)
        for todo_id in todo_ids:
            m.emit(topic, "todo.deleted", {"id": todo_id}, audience=todo_audience[todo_id])
        for ident, event in [
            *((t, "tag.deleted") for t in tag_ids),
            (group_id, "tag_group.deleted"),
        ]:
            m.emit(topic, event, {"id": ident})
        reply = {
            "id": group_id,
            "deleted_tags": len(tag_ids),
            "deleted_todos": len(todo_ids),
            "unlinked": unlinked,
        }
        return m.done(reply)


@retrying
async def do_create_tag(services: Services, actor: Actor, data: TagCreateData) -> dict[str, Any]:
    """Create a tag in one of the caller's groups; its name is new to the group."""
    async with mutate(services, actor) as m:
        await _require_group(m, data.group_id)
        await _require_room(m, data.group_id)
        await _require_free_name(m, data.group_id, data.name, None)
        values = {**_new(actor, m.now), **data.model_dump(), "name_key": name_key(data.name)}
        await insert_row(m.conn, tags, values)
        view = tag_view(values)
        m.emit(user_topic(actor.user_id), "tag.created", view)
        return m.done(view)


@retrying
async def do_update_tag(services: Services, actor: Actor, data: TagUpdateData) -> dict[str, Any]:
    """Change a tag; moving it to another group drops it from the old group's goal ratios."""
    changes = data.changes("id", "if_version")
    async with mutate(services, actor) as m:
        row = await load_owned(m, tags, "tag", data.id, data.if_version)
        old_group = row["group_id"]
        group_id = changes.get("group_id", old_group)
        if group_id != old_group:
            await _require_group(m, group_id)
            await _require_room(m, group_id)
        if "name" in changes or group_id != old_group:
            name = changes.get("name", row["name"])
            await _require_free_name(m, group_id, name, row["id"])
            changes["name_key"] = name_key(name)
        if not changes:
            return m.done(tag_view(row))
        view = tag_view(await write_row(m, tags, row, changes))
        m.emit(user_topic(actor.user_id), "tag.updated", view)
        if group_id != old_group:
            await _drop_ratio(m, old_group, {row["id"]})
        return m.done(view)


@retrying
async def do_delete_tag(
    services: Services, actor: Actor, tag_id: str, if_version: int | None
) -> dict[str, Any]:
    """Delete a tag and its links; its group goes too when it was the last tag and unused."""
    async with mutate(services, actor) as m:
        row = await load_owned(m, tags, "tag", tag_id, if_version)
        group_id = row["group_id"]
        unlinked = await do_untag(m, await linked_resources(m.conn, [tag_id]), {tag_id})
        await drop_tags(m.conn, [tag_id])
        await delete_rows(m.conn, tags, [tag_id])
        m.emit(user_topic(actor.user_id), "tag.deleted", {"id": tag_id})
        group_deleted = not await store.tag_ids_of_group(
            m.conn, group_id
        ) and not await todo_store.group_has_todos(m.conn, group_id)
        if group_deleted:
            await delete_rows(m.conn, tag_groups, [group_id])
            m.emit(user_topic(actor.user_id), "tag_group.deleted", {"id": group_id})
        else:
            await _drop_ratio(m, group_id, {tag_id})
        reply = {
            "id": tag_id,
            "group_id": group_id,
            "group_deleted": group_deleted,
            "unlinked": unlinked,
        }
        return m.done(reply)


def _new(actor: Actor, now: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "owner_id": actor.user_id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


async def _require_group(m: Mutation, group_id: str) -> RowMapping:
    # Locked: tag writes to one group serialise, so the name check cannot race.
    return await load_owned(m, tag_groups, "tag group", group_id)


async def _require_room(m: Mutation, group_id: str) -> None:
    if len(await store.tag_ids_of_group(m.conn, group_id)) >= MAX_TAGS_PER_GROUP:
        raise validation_error(
            f"at most {MAX_TAGS_PER_GROUP} tags per group", limit=MAX_TAGS_PER_GROUP
        )


async def _require_free_name(m: Mutation, group_id: str, name: str, own_id: str | None) -> None:
    holder = await store.find_tag_named(m.conn, group_id, name_key(name))
    if holder is not None and holder != own_id:
        raise ApiError(
            ErrorCode.CONFLICT,
            f"the group already has a tag named {name!r} (names ignore letter case)",
            {"field": "name", "tag_id": holder},
        )


async def _drop_ratio(m: Mutation, group_id: str, tag_ids: set[str]) -> None:
    """Remove tags from a group's goal ratios, emitting the group's update if it changed."""
    group = await get_owned(m.conn, tag_groups, m.actor.user_id, group_id, for_update=True)
    if group is None:
        return
    ratios = without_keys(group["goal_ratios"], tag_ids)
    if ratios is not None:
        updated = await write_row(m, tag_groups, group, {"goal_ratios": ratios})
        tag_rows = await store.list_tags(m.conn, m.actor.user_id, group_id)
        m.emit(user_topic(m.actor.user_id), "tag_group.updated", group_view(updated, tag_rows))
