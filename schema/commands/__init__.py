"""Every command the server accepts, declared once (the server registers handlers)."""

from __future__ import annotations

from schema.base import Command
from schema.commands import core, timers, users

ALL_COMMANDS: tuple[type[Command], ...] = (*core.COMMANDS, *users.COMMANDS, *timers.COMMANDS)
