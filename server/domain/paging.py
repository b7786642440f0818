"""Keyset cursors and instant parsing shared by list commands and REST."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

from server.clock import to_ms
from server.errors import validation_error


def encode_cursor(key: Sequence[int | str]) -> str:
    """Encode a keyset position as an opaque string."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, shape: Sequence[type]) -> list[Any]:
    """Decode a cursor from encode_cursor whose values have the types ``shape``.

    Anything else (another list's cursor, a forged one) is validation_error.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        key = None
    if (
        isinstance(key, list)
        and len(key) == len(shape)
        and all(type(v) is t for v, t in zip(key, shape, strict=True))
    ):
        return key
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


# Rows turned into views between two yields to the event loop: a 5,000-row page
# then blocks other requests for a few milliseconds at a time, not for its whole build.
VIEW_CHUNK = 250


async def views_yielding(
    rows: Sequence[Any], build: Callable[[Any], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Build views of ``rows``, yielding to the event loop between chunks."""
    views: list[dict[str, Any]] = []
    for start in range(0, len(rows), VIEW_CHUNK):
        if start:
            await asyncio.sleep(0)
        views.extend(build(row) for row in rows[start : start + VIEW_CHUNK])
    return views
