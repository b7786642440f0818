"""The one exception type handlers raise; the connection and REST map it to frames."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schema.errors import ErrorCode


class ApiError(Exception):
    """A failure the client is told about, with a code, a message and details."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        """Return the wire form of the error object."""
        return {"code": self.code.value, "message": self.message, "details": self.details}


def not_found(kind: str, ident: str) -> ApiError:
    """Build the error for a resource the caller cannot see or that does not exist."""
    return ApiError(ErrorCode.NOT_FOUND, f"{kind} {ident} does not exist", {"id": ident})


# When a client that found every pooled database connection busy is told to come back.
DB_BUSY_RETRY_MS = 1000


def database_busy() -> ApiError:
    """Build the answer to a command that found every database connection busy."""
    return ApiError(
        ErrorCode.UNAVAILABLE,
        "the database is busy; retry later",
        {"retry_after_ms": DB_BUSY_RETRY_MS},
    )


def validation_error(message: str, **details: Any) -> ApiError:
    """Build a validation error with details."""
    return ApiError(ErrorCode.VALIDATION_ERROR, message, details)


def validation_details(exc: ValidationError) -> dict[str, Any]:
    """Turn pydantic's errors into a stable, client-readable list."""
    errors = [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return {"errors": errors[:20]}
