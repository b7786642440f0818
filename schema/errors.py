"""Error codes shared by the WebSocket protocol and REST."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    """Every error code a client can receive."""

    BAD_FRAME = "bad_frame"
    VALIDATION_ERROR = "validation_error"
    UNKNOWN_COMMAND = "unknown_command"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_TRANSITION = "invalid_transition"
    CYCLE_DETECTED = "cycle_detected"
    GROUP_MISMATCH = "group_mismatch"
    INVALID_RRULE = "invalid_rrule"
    RATE_LIMITED = "rate_limited"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"


# The HTTP status REST answers with for each code.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_FRAME: 400,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.UNKNOWN_COMMAND: 404,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.CYCLE_DETECTED: 422,
    ErrorCode.GROUP_MISMATCH: 422,
    ErrorCode.INVALID_RRULE: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UNAVAILABLE: 503,
}


class ErrorBody(BaseModel):
    """The error object inside a failed result, an error frame or a REST envelope."""

    model_config = ConfigDict(extra="forbid")

    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    """The body of every REST error response."""

    error: ErrorBody
