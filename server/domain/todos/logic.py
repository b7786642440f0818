"""Pure todo rules: the view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from server.clock import iso_ms, iso_or_none
from server.domain.visibility.policy import visibility_view

Row = Mapping[Any, Any]


def todo_view(row: Row) -> dict[str, Any]:
    """Build the wire form of a todo."""
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "title": row["title"],
        "description": row["description"],
        "deadline": iso_or_none(row["deadline"]),
        "tag_group_id": row["tag_group_id"],
        "parent_id": row["parent_id"],
        "status": row["status"],
        "tag_ids": orjson.loads(row["tag_ids"]),
        "schedule_ids": [row["deadline_schedule_id"]] if row["deadline_schedule_id"] else [],
        "visibility": visibility_view(row),
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }
