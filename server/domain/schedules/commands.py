"""Schedule and calendar feed command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.schedules import (
    CalendarFeedCreate,
    CalendarFeedListCommand,
    CalendarFeedRevoke,
    CalendarFeedRotate,
    ScheduleCreate,
    ScheduleDelete,
    ScheduleGet,
    ScheduleListCommand,
    ScheduleUpdate,
)
from server.domain.context import Caller
from server.domain.holidays.calendars import with_holidays
from server.domain.registry import CommandRegistry
from server.domain.schedules import actions, feeds, reads


async def handle_create(caller: Caller, cmd: ScheduleCreate) -> Any:
    """Create a schedule."""
    return await actions.do_create_schedule(caller.services, caller.actor(cmd), cmd.data)


async def handle_update(caller: Caller, cmd: ScheduleUpdate) -> Any:
    """Change a schedule or occurrences of it."""
    return await actions.do_update_schedule(caller.services, caller.actor(cmd), cmd.data)


async def handle_delete(caller: Caller, cmd: ScheduleDelete) -> Any:
    """Delete a schedule or occurrences of it."""
    return await actions.do_delete_schedule(caller.services, caller.actor(cmd), cmd.data)


async def handle_get(caller: Caller, cmd: ScheduleGet) -> Any:
    """Read a schedule or one occurrence."""
    return await reads.get_schedule_view(caller.services, caller.user_id, cmd.data.id)


async def handle_list(caller: Caller, cmd: ScheduleListCommand) -> Any:
    """List a window's schedules and occurrences (and the caller's holidays, when asked)."""
    page = await reads.list_schedule_views(caller.services, caller.user_id, cmd.data)
    return await with_holidays(caller.services, caller.user_id, cmd.data, page)


async def handle_feed_create(caller: Caller, cmd: CalendarFeedCreate) -> Any:
    """Create a calendar feed."""
    return await feeds.do_create_feed(caller.services, caller.actor(cmd))


async def handle_feed_rotate(caller: Caller, cmd: CalendarFeedRotate) -> Any:
    """Rotate a calendar feed's token."""
    return await feeds.do_rotate_feed(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_feed_revoke(caller: Caller, cmd: CalendarFeedRevoke) -> Any:
    """Revoke a calendar feed."""
    return await feeds.do_revoke_feed(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_feed_list(caller: Caller, cmd: CalendarFeedListCommand) -> Any:
    """List calendar feeds."""
    return await feeds.list_feed_views(caller.services, caller.user_id)


def register(registry: CommandRegistry) -> None:
    """Register the schedule and calendar feed commands."""
    registry.add(ScheduleCreate, handle_create)
    registry.add(ScheduleUpdate, handle_update)
    registry.add(ScheduleDelete, handle_delete)
    registry.add(ScheduleGet, handle_get)
    registry.add(ScheduleListCommand, handle_list)
    registry.add(CalendarFeedCreate, handle_feed_create)
    registry.add(CalendarFeedRotate, handle_feed_rotate)
    registry.add(CalendarFeedRevoke, handle_feed_revoke)
    registry.add(CalendarFeedListCommand, handle_feed_list)
