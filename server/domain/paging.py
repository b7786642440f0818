"""Keyset cursors and instant parsing shared by list commands and REST."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson

from server.clock import to_ms
from server.errors import validation_error


def encode_cursor(created_at: int, ident: str) -> str:
    """Encode a keyset position as an opaque string."""
    return base64.urlsafe_b64encode(orjson.dumps([created_at, ident])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """Decode a cursor from encode_cursor, or raise validation_error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, ident = orjson.loads(raw)
        if isinstance(created_at, int) and isinstance(ident, str):
            return created_at, ident
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise validation_error("cursor is not one this server issued", field="cursor")


def parse_instant(value: str | None, field: str) -> int | None:
    """Parse an RFC 3339 instant with an offset into Unix ms, or raise validation_error."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise validation_error(f"{field} must be an RFC 3339 instant with an offset", field=field)
    return to_ms(parsed)
