"""Wire forms of a poll, its participants and their cells (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from server.clock import iso_ms
from server.domain.visibility.policy import visibility_view

Row = Mapping[Any, Any]


def days_of(row: Row) -> list[int]:
    """Return a poll's weekdays (0 = Monday) from their stored form."""
    return [int(day) for day in str(row["available_days"]).split(",")]


def stored_days(days: Iterable[int]) -> str:
    """Return weekdays in their stored form ("0,2,4")."""
    return ",".join(str(day) for day in sorted(days))


def meeting_view(row: Row, *, owner: bool) -> dict[str, Any]:
    """Build the wire form of a poll; its link only for the owner."""
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "title": row["title"],
        "description": row["description"],
        "start_date": row["start_date"],
        "end_date": row["end_date"],
        "available_days": days_of(row),
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "time_slot_minutes": row["time_slot_minutes"],
        "timezone": row["timezone"],
        "share_token": row["share_token"] if owner else None,
        "visibility": visibility_view(row),
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def participant_view(row: Row) -> dict[str, Any]:
    """Build the wire form of a participant (never their token)."""
    return {
        "id": row["id"],
        "meeting_id": row["meeting_id"],
        "display_name": row["display_name"],
        "user_id": row["user_id"],
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def cells_of(row: Row, tier: str) -> list[int]:
    """Return a participant's cell starts (UTC ms) of one tier."""
    return list(orjson.loads(row[tier]))


def availability_view(row: Row) -> dict[str, Any]:
    """Build the wire form of a participant's cells."""
    return {
        "meeting_id": row["meeting_id"],
        "participant_id": row["id"],
        "available": [iso_ms(ms) for ms in cells_of(row, "available")],
        "if_need_be": [iso_ms(ms) for ms in cells_of(row, "if_need_be")],
        "version": row["version"],
    }


def detail_view(row: Row) -> dict[str, Any]:
    """Build a participant with their cells, as ``meeting.get`` lists them."""
    cells = availability_view(row)
    return {
        **participant_view(row),
        "available": cells["available"],
        "if_need_be": cells["if_need_be"],
    }
