"""Pure tag rules: views, the name key, goal ratio checks."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import orjson

from server.clock import iso_ms
from server.errors import validation_error

Row = Mapping[Any, Any]


def name_key(name: str) -> str:
    """Return the key tag names are unique by: case-folded, so "Deep work" == "DEEP WORK"."""
    return name.casefold()


def tag_view(row: Row) -> dict[str, Any]:
    """Build the wire form of a tag."""
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "name": row["name"],
        "color": row["color"],
        "description": row["description"],
        "group_id": row["group_id"],
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def group_view(row: Row, tag_rows: Sequence[Row]) -> dict[str, Any]:
    """Build the wire form of a tag group with its tags."""
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "name": row["name"],
        "color": row["color"],
        "description": row["description"],
        "goal_ratios": orjson.loads(row["goal_ratios"]),
        "tags": [tag_view(t) for t in tag_rows],
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def require_ratio_keys(ratios: Mapping[str, float], group_tag_ids: Collection[str]) -> None:
    """Refuse goal ratios keyed by anything but the group's own tags."""
    strangers = sorted(set(ratios) - set(group_tag_ids))
    if strangers:
        raise validation_error(
            "goal_ratios keys must be tags of this group", field="goal_ratios", tag_ids=strangers
        )


def without_keys(ratios_json: str, tag_ids: Collection[str]) -> str | None:
    """Return the goal ratios minus ``tag_ids`` as JSON, or None when nothing changes."""
    ratios = orjson.loads(ratios_json)
    kept = {k: v for k, v in ratios.items() if k not in tag_ids}
    return None if len(kept) == len(ratios) else orjson.dumps(kept).decode()
