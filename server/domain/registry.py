"""The command registry: explicit registration, one handler per command model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from schema.base import Command

Handler = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Registered:
    """A command model and its handler."""

    model: type[Command]
    handler: Handler


class CommandRegistry:
    """Map command names (from the models' ``type`` Literal) to handlers."""

    def __init__(self) -> None:
        self._commands: dict[str, Registered] = {}

    def add(self, model: type[Command], handler: Handler) -> None:
        """Register ``handler`` for ``model``; a name registers once."""
        name = model.command_name()
        if name in self._commands:
            raise ValueError(f"command {name} is registered twice")
        self._commands[name] = Registered(model, handler)

    def get(self, name: str) -> Registered | None:
        """Return the registration for ``name``, or None."""
        return self._commands.get(name)

    def names(self) -> list[str]:
        """Return every registered command name."""
        return sorted(self._commands)
