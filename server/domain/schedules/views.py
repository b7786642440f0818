"""Wire forms of schedules and occurrences, with instants in UTC or a zone the client names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from server.clock import iso_ms
from server.domain.schedules.recurrence import instance_id

Row = Mapping[Any, Any]
Formatter = Callable[[int], str]


def formatter(zone: str | None) -> Formatter:
    """Return how instants are written: UTC ``Z`` by default, else with the zone's offset."""
    if zone is None or zone == "UTC":
        return iso_ms
    tz = ZoneInfo(zone)

    def in_zone(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="milliseconds")

    return in_zone


def schedule_view(row: Row, fmt: Formatter = iso_ms) -> dict[str, Any]:
    """Build the wire form of a series (or a single schedule)."""
    return {
        "id": row["id"],
        "owner_id": row["owner_id"],
        "title": row["title"],
        "description": row["description"],
        "start_time": fmt(row["start_at"]),
        "end_time": fmt(row["end_at"]),
        "timezone": row["timezone"],
        "recurrence_rule": row["recurrence_rule"],
        "recurrence_end": None if row["recurrence_end"] is None else fmt(row["recurrence_end"]),
        "state": row["state"],
        "tag_ids": orjson.loads(row["tag_ids"]),
        "source_todo_id": row["source_todo_id"],
        "series_id": None,
        "original_start": None,
        "overridden": False,
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }


def occurrence_view(
    series: Row,
    original_start: int,
    override: Row | None,
    fmt: Formatter = iso_ms,
    tag_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Build the wire form of one occurrence of a series, its override applied."""
    duration = series["end_at"] - series["start_at"]
    start = original_start if override is None else override["start_at"]
    end = original_start + duration if override is None else override["end_at"]
    changed = override or {}
    return {
        "id": instance_id(series["id"], original_start),
        "owner_id": series["owner_id"],
        "title": changed.get("title") or series["title"],
        "description": _first(changed.get("description"), series["description"]),
        "start_time": fmt(start),
        "end_time": fmt(end),
        "timezone": series["timezone"],
        "recurrence_rule": series["recurrence_rule"],
        "recurrence_end": None
        if series["recurrence_end"] is None
        else fmt(series["recurrence_end"]),
        "state": changed.get("state") or series["state"],
        "tag_ids": tag_ids if tag_ids is not None else orjson.loads(series["tag_ids"]),
        "source_todo_id": series["source_todo_id"],
        "series_id": series["id"],
        "original_start": fmt(original_start),
        "overridden": override is not None,
        "created_at": iso_ms(series["created_at"]),
        "updated_at": iso_ms(max(series["updated_at"], changed.get("updated_at", 0))),
        "version": series["version"] if override is None else override["version"],
    }


def _first(value: str | None, default: str) -> str:
    return default if value is None else value
