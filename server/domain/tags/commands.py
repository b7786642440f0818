"""Tag group and tag command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.tags import (
    TagCreate,
    TagDelete,
    TagGet,
    TagGroupCreate,
    TagGroupDelete,
    TagGroupGet,
    TagGroupListCommand,
    TagGroupUpdate,
    TagListCommand,
    TagUpdate,
)
from server.domain.context import Caller
from server.domain.registry import CommandRegistry
from server.domain.tags import actions, reads


async def handle_group_create(caller: Caller, cmd: TagGroupCreate) -> Any:
    """Create a tag group."""
    return await actions.do_create_group(caller.services, caller.actor(cmd), cmd.data)


async def handle_group_update(caller: Caller, cmd: TagGroupUpdate) -> Any:
    """Change a tag group."""
    return await actions.do_update_group(caller.services, caller.actor(cmd), cmd.data)


async def handle_group_delete(caller: Caller, cmd: TagGroupDelete) -> Any:
    """Delete a tag group with its tags and todos."""
    return await actions.do_delete_group(
        caller.services, caller.actor(cmd), cmd.data.id, cmd.data.if_version
    )


async def handle_group_get(caller: Caller, cmd: TagGroupGet) -> Any:
    """Read one tag group."""
    return await reads.get_group_view(caller.services, caller.user_id, cmd.data.id)


async def handle_group_list(caller: Caller, cmd: TagGroupListCommand) -> Any:
    """List tag groups with their tags."""
    return await reads.list_group_views(caller.services, caller.user_id)


async def handle_tag_create(caller: Caller, cmd: TagCreate) -> Any:
    """Create a tag."""
    return await actions.do_create_tag(caller.services, caller.actor(cmd), cmd.data)


async def handle_tag_update(caller: Caller, cmd: TagUpdate) -> Any:
    """Change or move a tag."""
    return await actions.do_update_tag(caller.services, caller.actor(cmd), cmd.data)


async def handle_tag_delete(caller: Caller, cmd: TagDelete) -> Any:
    """Delete a tag."""
    return await actions.do_delete_tag(
        caller.services, caller.actor(cmd), cmd.data.id, cmd.data.if_version
    )


async def handle_tag_get(caller: Caller, cmd: TagGet) -> Any:
    """Read one tag."""
    return await reads.get_tag_view(caller.services, caller.user_id, cmd.data.id)


async def handle_tag_list(caller: Caller, cmd: TagListCommand) -> Any:
    """List tags."""
    return await reads.list_tag_views(caller.services, caller.user_id, cmd.data.group_id)


def register(registry: CommandRegistry) -> None:
    """Register the tag group and tag commands."""
    registry.add(TagGroupCreate, handle_group_create)
    registry.add(TagGroupUpdate, handle_group_update)
    registry.add(TagGroupDelete, handle_group_delete)
    registry.add(TagGroupGet, handle_group_get)
    registry.add(TagGroupListCommand, handle_group_list)
    registry.add(TagCreate, handle_tag_create)
    registry.add(TagUpdate, handle_tag_update)
    registry.add(TagDelete, handle_tag_delete)
    registry.add(TagGet, handle_tag_get)
    registry.add(TagListCommand, handle_tag_list)
