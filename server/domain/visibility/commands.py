"""Visibility command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.visibility import VisibilityGet, VisibilitySet
from server.domain.context import Caller
from server.domain.registry import CommandRegistry
from server.domain.visibility import actions


async def handle_set(caller: Caller, cmd: VisibilitySet) -> Any:
    """Set who sees one of the caller's resources."""
    return await actions.do_set_visibility(caller.services, caller.actor(cmd), cmd.data)


async def handle_get(caller: Caller, cmd: VisibilityGet) -> Any:
    """Read who sees one of the caller's resources."""
    return await actions.get_visibility(caller.services, caller.user_id, cmd.data)


def register(registry: CommandRegistry) -> None:
    """Register the visibility commands."""
    registry.add(VisibilitySet, handle_set)
    registry.add(VisibilityGet, handle_get)
