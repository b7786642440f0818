"""User command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.users import UserMe, UserUpdate
from server.domain.context import Caller
from server.domain.registry import CommandRegistry
from server.domain.users.actions import do_update_user
from server.domain.users.views import user_view
from server.errors import not_found
from server.storage.users import get_user


async def handle_me(caller: Caller, cmd: UserMe) -> Any:
    """Return the caller's profile."""
    async with caller.services.db.read() as conn:
        row = await get_user(conn, caller.user_id)
    if row is None:
        raise not_found("user", caller.user_id)
    return user_view(row, private=True)


async def handle_update(caller: Caller, cmd: UserUpdate) -> Any:
    """Change the caller's display name, time zone or holiday calendars."""
    changes = cmd.data.changes("if_version")
    return await do_update_user(caller.services, caller.actor(cmd), changes, cmd.data.if_version)


def register(registry: CommandRegistry) -> None:
    """Register the user commands."""
    registry.add(UserMe, handle_me)
    registry.add(UserUpdate, handle_update)
