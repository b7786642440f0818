"""Every command the server accepts, declared once (the server registers handlers)."""

from __future__ import annotations

from schema.base import Command
from schema.commands import (
    core,
    friends,
    holidays,
    meetings,
    schedules,
    tags,
    timers,
    todos,
    users,
    visibility,
)

ALL_COMMANDS: tuple[type[Command], ...] = (
    *core.COMMANDS,
    *users.COMMANDS,
    *timers.COMMANDS,
    *tags.COMMANDS,
    *todos.COMMANDS,
    *schedules.COMMANDS,
    *friends.COMMANDS,
    *visibility.COMMANDS,
    *meetings.COMMANDS,
    *holidays.COMMANDS,
)
