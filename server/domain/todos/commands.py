"""Todo command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.todos import (
    TodoCreate,
    TodoDelete,
    TodoGet,
    TodoListCommand,
    TodoStatsCommand,
    TodoUpdate,
)
from server.domain.context import Caller
from server.domain.registry import CommandRegistry
from server.domain.todos import actions, reads


async def handle_create(caller: Caller, cmd: TodoCreate) -> Any:
    """Create a todo."""
    return await actions.do_create_todo(caller.services, caller.actor(cmd), cmd.data)


async def handle_update(caller: Caller, cmd: TodoUpdate) -> Any:
    """Change a todo."""
    return await actions.do_update_todo(caller.services, caller.actor(cmd), cmd.data)


async def handle_delete(caller: Caller, cmd: TodoDelete) -> Any:
    """Delete a todo."""
    return await actions.do_delete_todo(
        caller.services, caller.actor(cmd), cmd.data.id, cmd.data.if_version
    )


async def handle_get(caller: Caller, cmd: TodoGet) -> Any:
    """Read one todo: the caller's, or another user's they may see."""
    return await reads.get_todo_view(caller.services, caller.user_id, cmd.data.id)


async def handle_list(caller: Caller, cmd: TodoListCommand) -> Any:
    """List the caller's todos, or those of ``owner_id`` they may see."""
    return await reads.list_todo_views(caller.services, caller.user_id, cmd.data)


async def handle_stats(caller: Caller, cmd: TodoStatsCommand) -> Any:
    """Count todos."""
    return await reads.todo_stats(caller.services, caller.user_id, cmd.data.group_id)


def register(registry: CommandRegistry) -> None:
    """Register the todo commands."""
    registry.add(TodoCreate, handle_create)
    registry.add(TodoUpdate, handle_update)
    registry.add(TodoDelete, handle_delete)
    registry.add(TodoGet, handle_get)
    registry.add(TodoListCommand, handle_list)
    registry.add(TodoStatsCommand, handle_stats)
