"""What every command leaves behind: its metrics, and one log line at DEBUG."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from server.logs import COMMAND

if TYPE_CHECKING:
    from schema.errors import ErrorCode
    from server.protocol.connection import Connection

log = logging.getLogger("server.commands")

Dispatch = Callable[["Connection", str], Awaitable[tuple[bytes, "ErrorCode | None"]]]


def observed(dispatch: Dispatch) -> Dispatch:
    """Count and time each call of ``dispatch``, and log its command, outcome and duration."""

    @functools.wraps(dispatch)
    async def observe(conn: Connection, text: str) -> tuple[bytes, ErrorCode | None]:
        started = time.perf_counter()
        # dispatch names the command once it is found; a frame that names none has no name.
        token = COMMAND.set(None)
        try:
            reply, code = await dispatch(conn, text)
            command = COMMAND.get()
        finally:
            COMMAND.reset(token)
        outcome = "ok" if code is None else code.value
        seconds = time.perf_counter() - started
        conn.state.metrics.command_done(command, outcome, seconds)
        if log.isEnabledFor(logging.DEBUG):
            log_command(command, outcome, seconds)
        return reply, code

    return observe


def log_command(command: str | None, outcome: str, seconds: float) -> None:
    """Log one line for a command (DEBUG: a line per command is too many at INFO)."""
    fields: dict[str, Any] = {
        "command": command,
        "outcome": outcome,
        "duration_ms": round(seconds * 1000, 3),
    }
    log.debug("%s %s in %.1f ms", command or "(no command)", outcome, seconds * 1000, extra=fields)
