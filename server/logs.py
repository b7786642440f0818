"""Log lines as plain text or one JSON object each, carrying the request's context."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from server.settings import Settings

# Set by the REST middleware (request), the WebSocket session (connection, user) and
# dispatch (command); asyncio copies them into the tasks a request or command starts.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
CONNECTION_ID: ContextVar[str | None] = ContextVar("connection_id", default=None)
USER_ID: ContextVar[str | None] = ContextVar("user_id", default=None)
COMMAND: ContextVar[str | None] = ContextVar("command", default=None)

CONTEXT_FIELDS: dict[str, ContextVar[str | None]] = {
    "request_id": REQUEST_ID,
    "connection_id": CONNECTION_ID,
    "user_id": USER_ID,
    "command": COMMAND,
}
# Fields only a record's `extra` supplies (the one line per command).
RECORD_FIELDS = ("outcome", "duration_ms")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def bind_connection(connection_id: str) -> None:
    """Tag the current task's log lines (and its children's) with a connection id."""
    CONNECTION_ID.set(connection_id)


def bind_user(user_id: str) -> None:
    """Tag the current task's log lines (and its children's) with a user id."""
    USER_ID.set(user_id)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and the context."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line (fields that are unknown are left out)."""
        entry: dict[str, Any] = {
            "time": _iso_ms(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in CONTEXT_FIELDS.items():
            # A record's own value wins: fan-out runs in the publisher's task, whose
            # context names another connection than the one the line is about.
            value = getattr(record, name, None) or var.get()
            if value:
                entry[name] = value
        for name in RECORD_FIELDS:
            if getattr(record, name, None) is not None:
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def _iso_ms(created: float) -> str:
    """Format a record's time as RFC 3339 UTC with milliseconds, as the protocol does."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def build_handler(log_format: str) -> logging.Handler:
    """Return a stderr handler writing ``plain`` or ``json`` lines."""
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN_FORMAT)
    handler.setFormatter(formatter)
    return handler


def configure_logging(settings: Settings) -> None:
    """Send the root logger's lines to stderr at the configured level and format."""
    logging.basicConfig(
        level="DEBUG" if settings.debug else settings.log_level,
        handlers=[build_handler(settings.log_format)],
    )
    # Python's warnings then reach stderr as log lines too (JSON ones, with LOG_FORMAT=json).
    logging.captureWarnings(True)
