"""Timer command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.timers import (
    TimerActive,
    TimerCancel,
    TimerDelete,
    TimerGet,
    TimerListCommand,
    TimerPause,
    TimerResume,
    TimerStart,
    TimerStop,
    TimerUpdate,
)
from server.domain.context import Caller
from server.domain.registry import CommandRegistry
from server.domain.timers.actions import (
    do_delete_timer,
    do_start_timer,
    do_transition,
    do_update_timer,
)
from server.domain.timers.reads import active_timer_views, get_timer_view, list_timer_views

Transitioning = TimerPause | TimerResume | TimerStop | TimerCancel


async def handle_start(caller: Caller, cmd: TimerStart) -> Any:
    """Start a timer."""
    return await do_start_timer(caller.services, caller.actor(cmd), cmd.data)


async def handle_transition(caller: Caller, cmd: Transitioning) -> Any:
    """Pause, resume, stop or cancel a timer (the verb is the command's)."""
    action = cmd.command_name().split(".", 1)[1]
    return await do_transition(
        caller.services, caller.actor(cmd), cmd.data.id, action, cmd.data.if_version
    )


async def handle_update(caller: Caller, cmd: TimerUpdate) -> Any:
    """Change a timer."""
    return await do_update_timer(caller.services, caller.actor(cmd), cmd.data)


async def handle_delete(caller: Caller, cmd: TimerDelete) -> Any:
    """Delete a timer."""
    return await do_delete_timer(
        caller.services, caller.actor(cmd), cmd.data.id, cmd.data.if_version
    )


async def handle_get(caller: Caller, cmd: TimerGet) -> Any:
    """Read one timer: the caller's, or another user's they may see."""
    return await get_timer_view(caller.services, caller.user_id, cmd.data.id)


async def handle_list(caller: Caller, cmd: TimerListCommand) -> Any:
    """List the caller's timers, or those of ``owner_id`` they may see."""
    return await list_timer_views(caller.services, caller.user_id, cmd.data)


async def handle_active(caller: Caller, cmd: TimerActive) -> Any:
    """List running and paused timers (the caller's, or those of ``owner_id`` they may see)."""
    return await active_timer_views(caller.services, caller.user_id, cmd.data.owner_id)


def register(registry: CommandRegistry) -> None:
    """Register the timer commands."""
    registry.add(TimerStart, handle_start)
    for model in (TimerPause, TimerResume, TimerStop, TimerCancel):
        registry.add(model, handle_transition)
    registry.add(TimerUpdate, handle_update)
    registry.add(TimerDelete, handle_delete)
    registry.add(TimerGet, handle_get)
    registry.add(TimerListCommand, handle_list)
    registry.add(TimerActive, handle_active)
